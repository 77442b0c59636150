"""Inspections: tiny rules over a schema-valid model, one function per rule, each with a dotted id.

A rule yields `Finding(path, message, fix)`; `inspect()` attaches the rule id, file and line.
Add a rule by writing one function with `@rule("area.thing.check")` and one failing fixture in
tests/test_inspections.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .loader import LoadedModel, Problem
from .schema import NetShopModel


@dataclass(frozen=True)
class Finding:
    path: str
    message: str
    fix: str


Rule = Callable[[NetShopModel], Iterable[Finding]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    """Register an inspection under a dotted id."""

    def register(fn: Rule) -> Rule:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        fn.rule_id = rule_id  # type: ignore[attr-defined]
        RULES[rule_id] = fn
        return fn

    return register


def inspect(loaded: LoadedModel) -> list[Problem]:
    """Run every rule; return problems sorted by line, each naming file, YAML path and fix."""
    problems = [
        Problem(rule_id, f.path, f.message, f.fix, loaded.file, loaded.locate(f.path))
        for rule_id, fn in RULES.items()
        for f in fn(loaded.model)
    ]
    return sorted(problems, key=lambda p: (p.line or 0, p.rule, p.path))


def _dupes(values: Iterable) -> set:
    return {v for v, n in Counter(values).items() if n > 1}


# --------------------------------------------------------------------------- names and ports


@rule("platform.tiers.complete")
def tiers_complete(m: NetShopModel) -> Iterator[Finding]:
    names = [t.name for t in m.platform.tiers]
    if names != ["edge", "app", "worker", "data"]:
        yield Finding(
            "platform.tiers",
            f"tiers are {names}; the platform needs edge, app, worker and data, once each, top to bottom",
            "list the four tiers in the order edge, app, worker, data",
        )


@rule("platform.zones.unique")
def zones_unique(m: NetShopModel) -> Iterator[Finding]:
    for i, z in enumerate(m.platform.zones):
        if z.name in _dupes(z.name for z in m.platform.zones):
            yield Finding(f"platform.zones[{i}].name", f"zone '{z.name}' is declared more than once", "give each zone its own name")


@rule("name.unique")
def names_unique(m: NetShopModel) -> Iterator[Finding]:
    dupes = _dupes(m.workload_names)
    for i, s in enumerate(m.services):
        if s.name in dupes:
            yield Finding(f"services[{i}].name", f"name '{s.name}' is used by more than one service or datastore", "rename one of them")
    for i, d in enumerate(m.datastores):
        if d.name in dupes:
            yield Finding(f"datastores[{i}].name", f"name '{d.name}' is used by more than one service or datastore", "rename one of them")


@rule("port.unique")
def ports_unique(m: NetShopModel) -> Iterator[Finding]:
    owners = [(f"services[{i}].port", s.name, s.port) for i, s in enumerate(m.services)]
    owners += [(f"datastores[{i}].port", d.name, d.port) for i, d in enumerate(m.datastores)]
    dupes = _dupes(p for _, _, p in owners)
    for path, name, port in owners:
        if port in dupes:
            others = sorted(n for _, n, p in owners if p == port and n != name)
            yield Finding(path, f"port {port} of '{name}' is also used by {', '.join(others)}", "pick a free port")


@rule("route.unique")
def routes_unique(m: NetShopModel) -> Iterator[Finding]:
    for i, s in enumerate(m.services):
        dupes = _dupes(r.ref for r in s.routes)
        for j, r in enumerate(s.routes):
            if r.ref in dupes:
                yield Finding(f"services[{i}].routes[{j}]", f"'{s.name}' declares {r.ref} more than once", "remove the repeated route")


@rule("route.public.unique")
def public_routes_unique(m: NetShopModel) -> Iterator[Finding]:
    owners: dict[str, list[str]] = {}
    for s in m.services:
        for r in s.routes:
            if r.public:
                owners.setdefault(r.ref, []).append(s.name)
    for i, s in enumerate(m.services):
        for j, r in enumerate(s.routes):
            if r.public and len(owners[r.ref]) > 1:
                yield Finding(
                    f"services[{i}].routes[{j}]",
                    f"public route {r.ref} is exposed by {', '.join(owners[r.ref])}; the gateway could not tell them apart",
                    "keep it public on one service only",
                )


# --------------------------------------------------------------------------- references


@rule("edge.source.exists")
def edge_source_exists(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.sync_edges):
        if e.caller not in m.service_by_name:
            yield Finding(f"sync_edges[{i}].caller", f"caller '{e.caller}' is not a declared service", "declare the service or fix the name")


@rule("edge.target.exists")
def edge_target_exists(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.sync_edges):
        if e.callee not in m.service_by_name and e.callee not in m.datastore_by_name:
            yield Finding(f"sync_edges[{i}].callee", f"callee '{e.callee}' is not a declared service", "declare the service or fix the name")


@rule("edge.no-self")
def edge_no_self(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.sync_edges):
        if e.caller == e.callee:
            yield Finding(f"sync_edges[{i}]", f"'{e.caller}' calls itself over the network", "call the code in-process and remove the edge")


@rule("edge.unique")
def edges_unique(m: NetShopModel) -> Iterator[Finding]:
    dupes = _dupes(e.id for e in m.sync_edges)
    for i, e in enumerate(m.sync_edges):
        if e.id in dupes:
            yield Finding(f"sync_edges[{i}]", f"edge {e.id} is declared more than once", "merge the routes into one edge")


@rule("edge.route.exists")
def edge_routes_exist(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.sync_edges):
        callee = m.service_by_name.get(e.callee)
        if callee is None:
            continue
        refs = {r.ref for r in callee.routes}
        for j, ref in enumerate(e.routes):
            if ref == "*" and not callee.routes:
                yield Finding(f"sync_edges[{i}].routes[{j}]", f"'{e.callee}' has no routes for '*' to grant", "declare routes on the callee")
            elif ref == "public" and not any(r.public for r in callee.routes):
                yield Finding(f"sync_edges[{i}].routes[{j}]", f"'{e.callee}' has no public routes", "mark routes public or list them")
            elif ref not in ("*", "public") and ref not in refs:
                yield Finding(
                    f"sync_edges[{i}].routes[{j}]",
                    f"'{e.callee}' does not expose {ref}",
                    f"use one of: {', '.join(sorted(refs)) or 'none declared'}",
                )


@rule("data-edge.service.exists")
def data_edge_service_exists(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.data_edges):
        if e.service not in m.service_by_name:
            yield Finding(f"data_edges[{i}].service", f"service '{e.service}' is not declared", "declare the service or fix the name")


@rule("data-edge.datastore.exists")
def data_edge_datastore_exists(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.data_edges):
        if e.datastore not in m.datastore_by_name:
            yield Finding(f"data_edges[{i}].datastore", f"datastore '{e.datastore}' is not declared", "declare the datastore or fix the name")


@rule("data-edge.unique")
def data_edges_unique(m: NetShopModel) -> Iterator[Finding]:
    dupes = _dupes(e.id for e in m.data_edges)
    for i, e in enumerate(m.data_edges):
        if e.id in dupes:
            yield Finding(f"data_edges[{i}]", f"data edge {e.id} is declared more than once", "keep one and merge the purposes")


@rule("data-edge.broker.implied")
def data_edge_not_broker(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.data_edges):
        ds = m.datastore_by_name.get(e.datastore)
        if ds is not None and ds.kind == "rabbitmq":
            yield Finding(
                f"data_edges[{i}]",
                f"'{e.service}' -> '{e.datastore}' is a broker connection; broker edges follow from events",
                "remove it and declare the event's producer or subscription instead",
            )


@rule("ingress.service.exists")
def ingress_service(m: NetShopModel) -> Iterator[Finding]:
    svc = m.service_by_name.get(m.platform.ingress.service)
    if svc is None or svc.tier != "edge":
        yield Finding("platform.ingress.service", f"ingress target '{m.platform.ingress.service}' is not an edge-tier service", "name the web service")


# --------------------------------------------------------------------------- tiers


@rule("tier.worker.no-inbound-sync")
def worker_no_inbound(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.sync_edges):
        callee = m.service_by_name.get(e.callee)
        if callee is not None and callee.tier == "worker":
            yield Finding(
                f"sync_edges[{i}]",
                f"'{e.caller}' calls worker '{e.callee}' synchronously; workers never sit on the request path",
                "publish an event the worker consumes, or serve the data from an app-tier read model",
            )


@rule("tier.edge.no-call-from-below")
def no_call_to_edge_from_below(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.sync_edges):
        caller, callee = m.service_by_name.get(e.caller), m.service_by_name.get(e.callee)
        if caller and callee and callee.tier == "edge" and caller.tier != "edge":
            yield Finding(
                f"sync_edges[{i}]",
                f"{caller.tier}-tier '{e.caller}' calls edge-tier '{e.callee}'; calls flow from the edge downwards",
                "reverse the dependency: let the edge service call down, or move the logic to the app tier",
            )


@rule("tier.data.only-data-edges")
def data_tier_only_data_edges(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.sync_edges):
        if e.callee in m.datastore_by_name:
            yield Finding(
                f"sync_edges[{i}].callee",
                f"'{e.caller}' reaches datastore '{e.callee}' through a sync edge",
                "declare a data edge (data_edges) or an event instead",
            )
    for i, e in enumerate(m.data_edges):
        if e.datastore in m.service_by_name:
            yield Finding(
                f"data_edges[{i}].datastore",
                f"data edge targets service '{e.datastore}', which is not in the data tier",
                "use a sync edge for service-to-service calls",
            )


# --------------------------------------------------------------------------- events


@rule("event.name.unique")
def event_names_unique(m: NetShopModel) -> Iterator[Finding]:
    dupes = _dupes(e.name for e in m.events)
    for i, e in enumerate(m.events):
        if e.name in dupes:
            yield Finding(f"events[{i}].name", f"event '{e.name}' is declared more than once", "merge the declarations")


@rule("event.producer.exists")
def event_producer(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.events):
        if e.producer not in m.service_by_name:
            yield Finding(f"events[{i}].producer", f"producer '{e.producer}' is not a declared service", "name a declared service")


@rule("event.exchange.exists")
def event_exchange(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.events):
        if e.exchange not in m.exchange_by_name:
            yield Finding(f"events[{i}].exchange", f"exchange '{e.exchange}' is not declared", "declare it under exchanges")


@rule("exchange.broker.exists")
def exchange_broker(m: NetShopModel) -> Iterator[Finding]:
    for i, x in enumerate(m.exchanges):
        ds = m.datastore_by_name.get(x.broker)
        if ds is None or ds.kind != "rabbitmq":
            yield Finding(f"exchanges[{i}].broker", f"broker '{x.broker}' is not a rabbitmq datastore", "name the rabbitmq datastore")


@rule("event.has-consumer")
def event_has_consumer(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.events):
        if not e.subscriptions:
            yield Finding(f"events[{i}].subscriptions", f"event '{e.name}' has no consumer; nobody would ever read it", "add a subscription or remove the event")


@rule("event.consumer.exists")
def event_consumer_exists(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.events):
        for j, s in enumerate(e.subscriptions):
            if s.consumer not in m.service_by_name:
                yield Finding(f"events[{i}].subscriptions[{j}].consumer", f"consumer '{s.consumer}' is not a declared service", "name a declared service")


@rule("event.queue.unique")
def queues_unique(m: NetShopModel) -> Iterator[Finding]:
    all_queues = [q for e in m.events for s in e.subscriptions for q in (s.queue, s.dead_letter_queue)]
    dupes = _dupes(all_queues)
    for i, e in enumerate(m.events):
        for j, s in enumerate(e.subscriptions):
            for key in ("queue", "dead_letter_queue"):
                if getattr(s, key) in dupes:
                    yield Finding(f"events[{i}].subscriptions[{j}].{key}", f"queue '{getattr(s, key)}' is used more than once", "give every subscription its own queues")


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: `*` is exactly one word, `#` is zero or more words."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


@rule("event.binding.matches")
def binding_matches(m: NetShopModel) -> Iterator[Finding]:
    for i, e in enumerate(m.events):
        for j, s in enumerate(e.subscriptions):
            if not topic_matches(s.binding_key, e.routing_key):
                yield Finding(
                    f"events[{i}].subscriptions[{j}].binding_key",
                    f"binding key '{s.binding_key}' never matches routing key '{e.routing_key}'",
                    f"use '{e.routing_key}' or a topic pattern that matches it",
                )


# --------------------------------------------------------------------------- flows


@rule("flow.step.declared")
def flow_steps_declared(m: NetShopModel) -> Iterator[Finding]:
    sync = {(e.caller, e.callee) for e in m.sync_edges}
    data = {(e.service, e.datastore) for e in m.all_data_edges}
    subs = {(e.name, s.consumer) for e in m.events for s in e.subscriptions}
    for i, f in enumerate(m.flows):
        for j, st in enumerate(f.steps):
            path = f"flows[{i}].steps[{j}]"
            if st.kind == "invalid":
                yield Finding(path, "a step is either from+to, event, or event+to", "set `from` and `to`, or `event` (and `to` for a consumer)")
            elif st.kind == "call" and (st.source, st.to) not in sync | data:
                yield Finding(path, f"step {st.source} -> {st.to} is not a declared sync or data edge", "declare the edge or fix the step")
            elif st.kind == "publish" and st.event not in m.event_by_name:
                yield Finding(path, f"event '{st.event}' is not declared", "declare the event or fix the name")
            elif st.kind == "consume" and (st.event, st.to) not in subs:
                yield Finding(path, f"'{st.to}' does not subscribe to '{st.event}'", "add a subscription or fix the step")


@rule("flow.step.route.exists")
def flow_step_routes(m: NetShopModel) -> Iterator[Finding]:
    edges = {(e.caller, e.callee): e for e in m.sync_edges}
    for i, f in enumerate(m.flows):
        for j, st in enumerate(f.steps):
            if st.route is None:
                continue
            edge = edges.get((st.source, st.to))
            if edge is None:
                yield Finding(f"flows[{i}].steps[{j}].route", "a route is given on a step that is not a sync call", "drop the route")
            elif st.route not in {r.ref for r in m.routes_of_edge(edge)}:
                yield Finding(
                    f"flows[{i}].steps[{j}].route",
                    f"edge {edge.id} does not grant {st.route}",
                    "add the route to the edge or fix the step",
                )


@rule("flow.name.unique")
def flows_unique(m: NetShopModel) -> Iterator[Finding]:
    dupes = _dupes(f.name for f in m.flows)
    for i, f in enumerate(m.flows):
        if f.name in dupes:
            yield Finding(f"flows[{i}].name", f"flow '{f.name}' is declared more than once", "rename one")


# --------------------------------------------------------------------------- scaling


@rule("scaling.min-le-max")
def min_le_max(m: NetShopModel) -> Iterator[Finding]:
    for i, s in enumerate(m.services):
        if s.scaling.min > s.scaling.max:
            yield Finding(f"services[{i}].scaling", f"'{s.name}' has min {s.scaling.min} above max {s.scaling.max}", "raise max or lower min")


@rule("scaling.ha-per-zone")
def ha_per_zone(m: NetShopModel) -> Iterator[Finding]:
    zones = len(m.platform.zones)
    for i, s in enumerate(m.services):
        tier = m.tier_by_name.get(s.tier)
        if tier is not None and tier.ha and s.scaling.min < zones:
            yield Finding(
                f"services[{i}].scaling.min",
                f"'{s.name}' is in HA tier '{s.tier}' but runs {s.scaling.min} replica(s) for {zones} zones",
                f"set min to at least {zones}",
            )


@rule("capability.unique")
def capabilities_unique(m: NetShopModel) -> Iterator[Finding]:
    dupes = _dupes(c.id for c in m.capabilities)
    for i, c in enumerate(m.capabilities):
        if c.id in dupes:
            yield Finding(f"capabilities[{i}].id", f"capability '{c.id}' is declared more than once", "merge them")


# --------------------------------------------------------------------------- clouds


@rule("cloud.name.unique")
def clouds_unique(m: NetShopModel) -> Iterator[Finding]:
    dupes = _dupes(c.name for c in m.clouds)
    for i, c in enumerate(m.clouds):
        if c.name in dupes:
            yield Finding(f"clouds[{i}].name", f"cloud '{c.name}' is declared more than once", "merge them")


@rule("cloud.zones.cover-model")
def cloud_zones_cover(m: NetShopModel) -> Iterator[Finding]:
    model_zones = {z.name for z in m.platform.zones}
    for i, c in enumerate(m.clouds):
        if set(c.zones) != model_zones:
            yield Finding(
                f"clouds[{i}].zones",
                f"cloud '{c.name}' maps zones {sorted(c.zones)} but the platform has {sorted(model_zones)}",
                "map every platform zone, and only those, to a zone of the cloud",
            )
        elif len(set(c.zones.values())) != len(c.zones):
            yield Finding(f"clouds[{i}].zones", f"cloud '{c.name}' maps two platform zones to one cloud zone", "use distinct cloud zones")


@rule("cloud.ingress-source.set")
def cloud_ingress_source(m: NetShopModel) -> Iterator[Finding]:
    sources = [("platform.ingress.source", m.platform.ingress.source)]
    sources += [(f"clouds[{i}].ingress_source", c.ingress_source) for i, c in enumerate(m.clouds)]
    for path, src in sources:
        if bool(src.namespace) == bool(src.cidrs):
            yield Finding(path, "an ingress source is either a controller namespace (with labels) or CIDRs", "set one of them")


@rule("cloud.replicas.ha-per-zone")
def cloud_ha_per_zone(m: NetShopModel) -> Iterator[Finding]:
    zones = len(m.platform.zones)
    for i, c in enumerate(m.clouds):
        for tier, n in c.replicas.items():
            t = m.tier_by_name.get(tier)
            if t is not None and t.ha and n < zones:
                yield Finding(
                    f"clouds[{i}].replicas.{tier}",
                    f"cloud '{c.name}' runs {n} replica(s) of HA tier '{tier}' across {zones} zones",
                    f"use at least {zones}",
                )
