"""Architecture views: the platform, tiers, the edge path, sagas, event fan-outs and one context per workload."""

from __future__ import annotations

from diagrams.k8s.controlplane import API
from diagrams.k8s.network import Ing
from diagrams.k8s.podconfig import Secret
from diagrams.onprem.client import Users
from diagrams.onprem.gitops import Argocd
from diagrams.onprem.monitoring import Prometheus
from diagrams.onprem.network import Internet, Nginx
from diagrams.onprem.queue import Rabbitmq
from diagrams.onprem.vcs import Git
from diagrams.programming.flowchart import StoredData

from model.schema import Event, Flow, NetShopModel

from .diagrams_kit import (
    ALLOW,
    CONTROL,
    DENY,
    EVENT,
    MUTED,
    SYNC,
    Canvas,
    Plain,
    View,
    capability,
    data_link,
    edge_tier,
    place_by_tier,
    route_label,
    sync_link,
    tier_of,
    tier_title,
    workload,
    wrap,
)

# --------------------------------------------------------------------------- shared pieces


def entry(cv: Canvas) -> None:
    """Shoppers, the ingress source and the Ingress in front of the service it admits."""
    m = cv.model
    ing = m.platform.ingress
    src = ing.source
    users = cv.node("x.users", Users, "shoppers")
    if src.namespace:
        lb = cv.node("x.ingress-controller", Nginx, f"ingress controller\nns {src.namespace}")
    else:
        lb = cv.node("x.ingress-controller", Internet, "cloud load balancer\n" + "\n".join(src.cidrs))
    door = cv.node("x.ingress", Ing, f"Ingress {ing.host}\nclass {ing.class_name}, TLS {ing.tls_secret}")
    cv.link(users, lb, "HTTPS")
    cv.link(lb, door)
    cv.link(door, workload(cv, ing.service), f":{m.service_by_name[ing.service].port}", color=SYNC)


def exchange_nodes(cv: Canvas, event: Event) -> None:
    """The exchange an event goes through, its queues and their dead-letter queues."""
    m = cv.model
    x = m.exchange_by_name[event.exchange]
    cv.node(f"exchange.{x.name}", Rabbitmq, f"exchange {x.name}\n{x.type} on {x.broker}", model_id=x.name)
    cv.node(f"exchange.{x.dead_letter_exchange}", Plain, f"dead-letter exchange\n{x.dead_letter_exchange}", color=DENY)
    for sub in event.subscriptions:
        cv.node(f"queue.{sub.queue}", StoredData, f"{sub.queue}\nquorum, {sub.max_deliveries} deliveries", model_id=sub.queue)
        cv.node(f"queue.{sub.dead_letter_queue}", Plain, f"{sub.dead_letter_queue}", color=DENY)


def fanout_links(cv: Canvas, event: Event, numbered: dict[str, str] | None = None) -> None:
    """Producer -> exchange -> queue per binding -> consumer; rejected messages -> DLX -> DLQ."""
    m = cv.model
    x = m.exchange_by_name[event.exchange]
    numbered = numbered or {}
    xnode = cv.nodes[f"exchange.{x.name}"]
    dlx = cv.nodes[f"exchange.{x.dead_letter_exchange}"]
    cv.link(workload(cv, event.producer), xnode, numbered.get(event.producer, f"publish {event.name}\nkey {event.routing_key}"),
            color=EVENT, model_id=event.name)
    for sub in event.subscriptions:
        q = cv.nodes[f"queue.{sub.queue}"]
        cv.link(xnode, q, f"binding {sub.binding_key}", color=EVENT)
        cv.link(q, workload(cv, sub.consumer), numbered.get(sub.consumer, wrap(sub.effect, 26)), color=EVENT, style="bold")
        cv.link(q, dlx, "rejected", color=DENY, style="dotted")
        cv.link(dlx, cv.nodes[f"queue.{sub.dead_letter_queue}"], color=DENY, style="dotted")


# --------------------------------------------------------------------------- the whole platform


def platform(m: NetShopModel) -> View:
    cv = Canvas(m, f"{m.platform.title}: the whole platform on one canvas", direction="TB", ranksep="1.0")
    mesh = capability(m, "mesh")
    obs = capability(m, "observability")
    gitops = capability(m, "gitops")
    zero = capability(m, "zero-trust")
    with cv:
        ns_label = f"namespace {m.platform.namespace}" + (f" — {mesh.title.lower()} (mTLS)" if mesh else "")
        if zero:
            ns_label += " — default deny"
        with cv.group(ns_label, fill="white", style="rounded,dashed", pencolor=ALLOW if zero else MUTED):
            events = {e.exchange for e in m.events}
            place_by_tier(cv, m.workload_names, extras={"data": lambda: [
                cv.node(f"exchange.{x.name}", Rabbitmq, f"exchange {x.name}\n{x.type}", model_id=x.name)
                for x in m.exchanges if x.name in events]})
        entry(cv)
        tel = m.platform.telemetry
        if obs:
            with cv.group(f"{obs.title}: ns {tel.collector_namespace}, {tel.scraper_namespace}", fill="#FDEDEC"):
                cv.node("x.collector", Plain, f"{tel.collector_service}\nOTLP :{tel.otlp_http_port}")
                cv.node("x.prometheus", Prometheus, "Prometheus")
        if gitops:
            with cv.group(gitops.title, fill="#EAF2F8"):
                cv.link(cv.node("x.git", Git, "generated/ in Git"), cv.node("x.argocd", Argocd, "Argo CD"), "sync", color=CONTROL)
        for e in m.sync_edges:
            sync_link(cv, e, label="")
        for e in m.all_data_edges:
            data_link(cv, e)
        for event in m.events:
            x = m.exchange_by_name[event.exchange]
            for sub in event.subscriptions:
                cv.link(cv.nodes[f"exchange.{x.name}"], workload(cv, sub.consumer), event.name, color=EVENT,
                        style="bold", model_id=event.name)
        anchor = m.platform.ingress.service
        tier_cluster = f"cluster_{tier_title(m, tier_of(m, anchor))}"
        if obs:
            cv.link(workload(cv, anchor), cv.nodes["x.collector"], "OTLP traces", color=CONTROL, style="dotted", ltail=tier_cluster)
            cv.link(cv.nodes["x.prometheus"], workload(cv, anchor), "scrape /metrics", color=CONTROL, style="dotted", lhead=tier_cluster)
        if gitops:
            cv.link(cv.nodes["x.argocd"], workload(cv, anchor), "apply", color=CONTROL, style="dotted", lhead=tier_cluster)
    caption = (f"Every workload of {m.platform.title} by tier: {len(m.services)} services and {len(m.datastores)} datastores, "
               f"{len(m.sync_edges)} synchronous calls (blue), {len(m.all_data_edges)} datastore connections (purple, "
               f"orange to the broker) and the event fan-out (bold orange).")
    return cv.view("platform", caption, "architecture")


def tier_views(m: NetShopModel) -> list[View]:
    """One view per tier: its members, plus every workload they talk to (greyed)."""
    out = []
    for tier in m.platform.tiers:
        members = [n for n in m.workload_names if tier_of(m, n) == tier.name]
        if not members:
            continue
        touching_sync = [e for e in m.sync_edges if e.caller in members or e.callee in members]
        touching_data = [e for e in m.all_data_edges if e.service in members or e.datastore in members]
        neighbours = {e.caller for e in touching_sync} | {e.callee for e in touching_sync}
        neighbours |= {e.service for e in touching_data} | {e.datastore for e in touching_data}
        cv = Canvas(m, f"The {tier.title.lower()} tier", direction="TB")
        with cv:
            place_by_tier(cv, sorted(set(members) | neighbours), faded=neighbours - set(members))
            for e in touching_sync:
                sync_link(cv, e, label="" if len(touching_sync) > 12 else None)
            for e in touching_data:
                data_link(cv, e)
        out.append(cv.view(f"tier-{tier.name}", f"{tier.description} Greyed: the workloads it talks to.", "tier", tier.name))
    return out


def edge_path(m: NetShopModel) -> View:
    """North/south: the ingress, the chain of edge-tier services, and the services the last of them routes to."""
    top = edge_tier(m)
    cv = Canvas(m, "The edge path: from the browser to the domain services", direction="LR")
    chain, frontier, edges = [], [m.platform.ingress.service], []
    while frontier:
        name = frontier.pop(0)
        if name in chain:
            continue
        chain.append(name)
        for e in m.sync_edges:
            if e.caller == name:
                edges.append(e)
                if tier_of(m, e.callee) == top:
                    frontier.append(e.callee)
    names = chain + [e.callee for e in edges if e.callee not in chain]
    with cv:
        place_by_tier(cv, names)
        entry(cv)
        for e in edges:
            sync_link(cv, e)
        readers = [s for s in m.services if s.name in chain and s.kube_access]
        if readers:
            api = cv.node("x.kube-api", API, "Kubernetes API")
            for s in readers:
                what = ", ".join(r for a in s.kube_access for r in a.resources)
                cv.link(workload(cv, s.name), api, wrap(f"reads {what}", 30), color=CONTROL, style="dashed")
    caption = (f"A request enters through the Ingress for {m.platform.ingress.host} and passes "
               f"{' → '.join(chain)} before it reaches a domain service; only the edge tier is reachable from outside.")
    return cv.view("edge-path", caption, "flow")


# --------------------------------------------------------------------------- sagas and event fan-out


def saga_flows(m: NetShopModel) -> list[tuple[Event, Flow]]:
    """Each event with the first flow that publishes it: the saga whose last step is that publish."""
    out, seen = [], set()
    for event in m.events:
        flow = next((f for f in m.flows if any(s.kind == "publish" and s.event == event.name for s in f.steps)), None)
        if flow and flow.name not in seen:
            seen.add(flow.name)
            out.append((event, flow))
    return out


def saga_key(event: Event) -> str:
    return f"{event.name.split('.')[0]}-saga"


def saga(m: NetShopModel, event: Event, flow: Flow) -> View:
    cv = Canvas(m, f"The {event.name.split('.')[0]} saga: {flow.title.lower()}", direction="LR")
    steps = list(enumerate(flow.steps, start=1))
    names = [n for _, s in steps for n in (s.source, s.to) if n and n in m.workload_names]
    with cv:
        place_by_tier(cv, names + [event.producer], bold={event.producer},
                      extras={"data": lambda: exchange_nodes(cv, event)})
        numbered: dict[str, str] = {}
        for i, s in steps:
            if s.kind == "call" and s.to in m.service_by_name:
                e = next(e for e in m.sync_edges if e.caller == s.source and e.callee == s.to)
                sync_link(cv, e, label=f"{i}. {s.route}", constraint="true")
            elif s.kind == "call":
                de = next(e for e in m.all_data_edges if e.service == s.source and e.datastore == s.to)
                data_link(cv, de, label=wrap(f"{i}. {s.note}", 30))
            elif s.kind == "publish":
                numbered[event.producer] = f"{i}. publish {s.event}"
            elif s.kind == "consume":
                numbered[s.to] = wrap(f"{i}. {s.note}", 26)
        fanout_links(cv, event, numbered)
        cv.record(flow.name)
    caption = (f"{flow.description} Numbers follow the steps of the `{flow.name}` flow; the synchronous part ends "
               f"when {event.producer} stores its outbox row, the rest happens asynchronously.")
    return cv.view(saga_key(event), caption, "flow", flow.name)


def fanout(m: NetShopModel, event: Event) -> View:
    x = m.exchange_by_name[event.exchange]
    cv = Canvas(m, f"{event.name}: fan-out through the {x.type} exchange {x.name}", direction="LR")
    consumers = [s.consumer for s in event.subscriptions]
    with cv:
        place_by_tier(cv, [event.producer, *consumers, *[d.name for c in consumers for d in m.datastores_of(c) if d.name != x.broker]],
                      extras={"data": lambda: exchange_nodes(cv, event)})
        fanout_links(cv, event)
        for c in consumers:
            for de in m.data_edges:
                if de.service == c:
                    data_link(cv, de, label=wrap(de.purpose, 26))
    caption = (f"{event.description} Each consumer owns a durable quorum queue bound to {x.name}; a message it rejects "
               f"for good goes through {x.dead_letter_exchange} to its dead-letter queue.")
    return cv.view(f"fanout-{event.name.replace('.', '-')}", caption, "flow", event.name)


def event_bus(m: NetShopModel) -> View:
    cv = Canvas(m, "The event bus: exchanges, events, queues and dead letters", direction="LR")
    with cv:
        names = [e.producer for e in m.events] + [s.consumer for e in m.events for s in e.subscriptions]
        place_by_tier(cv, names + [x.broker for x in m.exchanges],
                      extras={"data": lambda: [exchange_nodes(cv, e) for e in m.events]})
        for x in m.exchanges:
            cv.link(workload(cv, x.broker), cv.nodes[f"exchange.{x.name}"], "hosts", color=MUTED, style="dotted")
        for event in m.events:
            fanout_links(cv, event)
    caption = f"{len(m.events)} event(s) over {len(m.exchanges)} exchange(s): who publishes, how each queue binds, where rejects go."
    return cv.view("event-bus", caption, "architecture")


# --------------------------------------------------------------------------- call graphs


def east_west(m: NetShopModel) -> View:
    top = edge_tier(m)
    edges = [e for e in m.sync_edges if tier_of(m, e.caller) != top]
    cv = Canvas(m, "East/west: calls between domain services", direction="LR")
    with cv:
        place_by_tier(cv, [n for e in edges for n in (e.caller, e.callee)])
        for e in edges:
            sync_link(cv, e, label=wrap(route_label(m, e), 32))
    caption = "Synchronous calls that stay inside the platform, each labelled with the callee routes it may use."
    return cv.view("east-west", caption, "architecture")


def data_access(m: NetShopModel) -> View:
    cv = Canvas(m, "Data access: who reaches which datastore", direction="LR")
    with cv:
        place_by_tier(cv, [n for e in m.all_data_edges for n in (e.service, e.datastore)])
        for e in m.all_data_edges:
            data_link(cv, e, label=wrap(e.purpose, 30))
    caption = "Every connection to PostgreSQL, Redis and the broker, with what the service keeps there; nothing else reaches the data tier."
    return cv.view("data-access", caption, "architecture")


# --------------------------------------------------------------------------- one context per workload


def context(m: NetShopModel, name: str) -> View:
    """A workload with everything it talks to and everything that talks to it."""
    svc = m.service_by_name.get(name)
    sync = [e for e in m.sync_edges if name in (e.caller, e.callee)]
    data = [e for e in m.all_data_edges if name in (e.service, e.datastore)]
    published = m.events_produced_by(name)
    consumed = m.subscriptions_of(name)
    hosted = [x for x in m.exchanges if x.broker == name]
    others = {e.caller for e in sync} | {e.callee for e in sync} | {e.service for e in data} | {e.datastore for e in data}
    others |= {s.consumer for e in published for s in e.subscriptions} | {e.producer for e, _ in consumed}
    title = f"{name}: {svc.role}" if svc else f"{name}: {m.datastore_by_name[name].role}"
    cv = Canvas(m, wrap(title, 90), direction="LR")
    with cv:
        events = published + [e for e, _ in consumed] + [e for e in m.events if m.exchange_by_name[e.exchange].broker == name]
        uniq = list({e.name: e for e in events}.values())
        place_by_tier(cv, sorted(others | {name}), faded=others - {name}, bold={name},
                      extras={"data": lambda: [exchange_nodes(cv, e) for e in uniq]} if uniq else None)
        if name == m.platform.ingress.service:
            entry(cv)
        for e in sync:
            sync_link(cv, e)
        for e in data:
            data_link(cv, e, label=wrap(e.purpose, 28))
        for e in uniq:
            fanout_links(cv, e)
        for x in hosted:
            cv.link(workload(cv, name), cv.nodes[f"exchange.{x.name}"], "hosts", style="dotted")
        if svc and svc.kube_access:
            api = cv.node("x.kube-api", API, "Kubernetes API")
            for a in svc.kube_access:
                cv.link(workload(cv, name), api, wrap(f"{'/'.join(a.verbs)} {', '.join(a.resources)}", 28), color=CONTROL, style="dashed")
        if svc and svc.secrets:
            secret = cv.node("x.jwt-secret", Secret, f"Secret {m.platform.jwt_secret}")
            cv.link(secret, workload(cv, name), "signing key", color=CONTROL, style="dotted")
    if svc:
        caption = (f"{svc.name} ({tier_title(m, svc.tier)}, port {svc.port}): {len(m.callers_of(name))} caller(s), "
                   f"{len(m.peers_of(name))} callee(s), {len(m.datastores_of(name))} datastore(s), "
                   f"{len(published)} event(s) published, {len(consumed)} consumed.")
    else:
        caption = f"{name} ({m.datastore_by_name[name].kind}, port {m.datastore_by_name[name].port}): reached by {', '.join(m.clients_of(name))}."
    return cv.view(f"context-{name}", caption, "context", name)


def architecture_views(m: NetShopModel) -> list[View]:
    views = [platform(m), *tier_views(m), edge_path(m)]
    views += [saga(m, e, f) for e, f in saga_flows(m)]
    views += [fanout(m, e) for e in m.events if e.subscriptions]
    views += [event_bus(m), east_west(m), data_access(m)]
    views += [context(m, n) for n in m.workload_names]
    return views

