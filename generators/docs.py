"""The `docs` family: the model's pages of the documentation site, as Markdown under `generated/docs/`.

One page per service and per datastore, the event catalogue, one page per flow with its sequence
diagram, the gallery of every diagram view and the model reference from the schema's field
descriptions, plus `nav.yml`, the site's Reference section. `netshop/mkdocs_hooks.py` mounts these
pages (and the diagrams' SVG and DOT files) into the site at build time, and expands each
service's `<!-- netshop:openapi NAME -->` marker into the tables of its live OpenAPI document.
Links are relative between site paths: `services/`, `datastores/`, `flows/`, `diagrams/`,
`events.md`, `model-reference.md`.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator

from model.schema import Datastore, NetShopModel, Service
from services.common.identity import local_placement

from . import networkpolicies
from .base import Artifact, header, to_yaml
from .diagrams import views
from .diagrams_kit import View
from .k8s import HOST_KEY, ZONE_KEY, labels, objects

ROOTS = ("docs/",)
ROOT = "docs/"
OPENAPI_MARKER = "<!-- netshop:openapi {name} -->"

# Gallery sections, in reading order: view kind -> heading.
GALLERY = {
    "architecture": "Architecture",
    "tier": "Tiers",
    "flow": "Paths and sagas",
    "sequence": "Flows as sequence diagrams",
    "context": "Context of each workload",
    "platform": "Platform mechanics",
    "capability": "Enterprise capabilities",
    "kubernetes": "Kubernetes objects (KubeDiagrams)",
}


# --------------------------------------------------------------------------- Markdown helpers


def page(title: str, body: str) -> str:
    """A page: the DO NOT EDIT banner as an HTML comment, the title, the body."""
    banner = header(__name__, comment="").strip()
    return f"<!-- {banner} -->\n\n# {title}\n\n{body.rstrip()}\n"


def one_line(text: str) -> str:
    return " ".join(text.split())


def cell(text: object) -> str:
    """Table-cell safe: one line, pipes escaped."""
    return one_line(str(text)).replace("|", "\\|")


def code(text: object) -> str:
    return f"`{text}`"


def table(head: list[str], rows: list[list[object]]) -> str:
    if not rows:
        return ""
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def anchor(text: str) -> str:
    """An explicit heading id: lower-case words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def figure(view: View, prefix: str) -> str:
    """The view's SVG with its caption, linked to its place in the gallery."""
    return (f"[![{cell(one_line(view.title))}]({prefix}diagrams/{view.key}.svg){{ loading=lazy }}]"
            f"({prefix}diagrams.md#{view.key})\n\n*{one_line(view.caption)}*\n")


# --------------------------------------------------------------------------- the diagram views, indexed


class Views:
    """The diagrams family's views, indexed by what they are about and by what they draw."""

    def __init__(self, all_views: Views) -> None:
        self.all = all_views
        self._about: dict[tuple[str, str | None], View] = {}
        self._subject: dict[str | None, list[View]] = {}
        self._drawing: dict[str, list[View]] = {}
        for v in all_views:
            self._about.setdefault((v.kind, v.subject), v)
            self._subject.setdefault(v.subject, []).append(v)
            for drawn in dict.fromkeys(v.draws):
                self._drawing.setdefault(drawn, []).append(v)

    def about(self, kind: str, subject: str) -> View | None:
        """The first view of this kind about this subject (a workload's context, a flow's sequence)."""
        return self._about.get((kind, subject))

    def on(self, subject: str) -> list[View]:
        return self._subject.get(subject, [])

    def drawing(self, model_id: str) -> list[View]:
        return self._drawing.get(model_id, [])


# --------------------------------------------------------------------------- links between pages


class Links:
    """Relative links from one directory level of the site (`prefix` is '' at the root, '../' below)."""

    def __init__(self, model: NetShopModel, prefix: str) -> None:
        self.model, self.prefix = model, prefix

    def workload(self, name: str) -> str:
        if name in self.model.service_by_name:
            return f"[{name}]({self.prefix}services/{name}.md)"
        if name in self.model.datastore_by_name:
            return f"[{name}]({self.prefix}datastores/{name}.md)"
        return code(name)

    def event(self, name: str) -> str:
        return f"[{name}]({self.prefix}events.md#{anchor('event-' + name)})"

    def flow(self, name: str, title: str | None = None) -> str:
        return f"[{title or name}]({self.prefix}flows/{name}.md)"

    def view(self, view: View) -> str:
        return f"[{one_line(view.title)}]({self.prefix}diagrams.md#{view.key})"


def route_refs(model: NetShopModel, edge) -> str:
    return ", ".join(code(r.ref) for r in model.routes_of_edge(edge)) or ", ".join(code(r) for r in edge.routes)


# --------------------------------------------------------------------------- Kubernetes facts


def selects(pod_selector: dict, pod_labels: dict[str, str]) -> bool:
    """Whether a NetworkPolicy podSelector selects pods with these labels."""
    if any(pod_labels.get(k) != v for k, v in pod_selector.get("matchLabels", {}).items()):
        return False
    for expr in pod_selector.get("matchExpressions", []):
        value, op = pod_labels.get(expr["key"]), expr["operator"]
        if (op == "In" and value not in expr["values"]) or (op == "NotIn" and value in expr["values"]):
            return False
        if (op == "Exists" and value is None) or (op == "DoesNotExist" and value is not None):
            return False
    return True


def peer_text(links: Links, peer: dict) -> str:
    if "ipBlock" in peer:
        return f"addresses {code(peer['ipBlock']['cidr'])}"
    parts = []
    if "namespaceSelector" in peer:
        ns = peer["namespaceSelector"].get("matchLabels", {}).get(networkpolicies.NS_KEY, "any")
        parts.append(f"namespace {code(ns)}")
    pods = peer.get("podSelector", {}).get("matchLabels", {})
    name = pods.get("app.kubernetes.io/name")
    if name and "namespaceSelector" not in peer:
        parts.append(links.workload(name))
    elif pods:
        parts.append("pods " + ", ".join(code(f"{k}={v}") for k, v in sorted(pods.items())))
    return " ".join(parts) or "any pod"


NAME_LABEL = "app.kubernetes.io/name"


def by_workload(policies: list[dict]) -> dict[str | None, list[tuple[int, dict]]]:
    """Policies (with their place in the policy file) keyed by the workload their podSelector names;
    None for those selecting by other labels (the default deny, DNS, telemetry)."""
    out: dict[str | None, list[tuple[int, dict]]] = {}
    for i, pol in enumerate(policies):
        out.setdefault(pol["spec"]["podSelector"].get("matchLabels", {}).get(NAME_LABEL), []).append((i, pol))
    return out


def policy_rows(model: NetShopModel, links: Links, name: str, tier: str, policies: dict[str | None, list[tuple[int, dict]]]) -> list[list[str]]:
    """The NetworkPolicies that select a workload's pods: what each lets in or out."""
    pod = labels(model, name, tier)
    rows = []
    for _, pol in sorted([*policies.get(None, []), *policies.get(name, [])], key=lambda p: p[0]):
        spec = pol["spec"]
        if not selects(spec["podSelector"], pod):
            continue
        rules = [("ingress", r, "from") for r in spec.get("ingress", [])] + [("egress", r, "to") for r in spec.get("egress", [])]
        if not rules:
            rows.append([code(pol["metadata"]["name"]), " + ".join(t.lower() for t in spec["policyTypes"]), "nothing (deny all)", "—"])
        for direction, rule, key in rules:
            peers = ", ".join(peer_text(links, p) for p in rule.get(key, [])) or "anywhere"
            ports = ", ".join(f"{p['protocol']} {p['port']}" for p in rule.get("ports", [])) or "all"
            rows.append([code(pol["metadata"]["name"]), direction, peers, ports])
    return rows


def k8s_object(objs: dict[tuple[str, str], dict], kind: str, name: str) -> dict | None:
    return objs.get((kind, name))


def scaling_section(model: NetShopModel, objs: dict[tuple[str, str], dict], svc: Service) -> str:
    hpa = k8s_object(objs, "HorizontalPodAutoscaler", svc.name)
    pdb = k8s_object(objs, "PodDisruptionBudget", svc.name)
    dep = k8s_object(objs, "Deployment", svc.name)
    out = ["## Scaling and placement\n"]
    if hpa:
        spec = hpa["spec"]
        targets = ", ".join(
            f"{m['resource']['name']} {m['resource']['target']['averageUtilization']} %" for m in spec.get("metrics", [])
        )
        beh = spec.get("behavior", {})
        rows = [
            ["Replicas", f"{spec['minReplicas']} – {spec['maxReplicas']}"],
            ["Target average utilisation (of the request)", targets],
            ["Scale-up stabilisation", f"{beh.get('scaleUp', {}).get('stabilizationWindowSeconds', 0)} s"],
            ["Scale-down stabilisation", f"{beh.get('scaleDown', {}).get('stabilizationWindowSeconds', 0)} s"],
        ]
        out.append(f"**HorizontalPodAutoscaler** {code(svc.name)}:\n\n" + table(["Setting", "Value"], rows))
    if pdb:
        budget = {k: v for k, v in pdb["spec"].items() if k != "selector"}
        out.append("**PodDisruptionBudget** " + code(svc.name) + ": "
                   + ", ".join(f"{code(k)} {v}" for k, v in budget.items())
                   + ": a node drain or cluster upgrade may evict no more of its pods at once.\n")
    if dep:
        spread = dep["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
        rows = [[code(c["topologyKey"]), c["maxSkew"], code(c["whenUnsatisfiable"])] for c in spread]
        if rows:
            out.append("**Zone spread** (topologySpreadConstraints of the Deployment):\n\n"
                       + table(["Topology key", "Max skew", "When unsatisfiable"], rows))
        zones = ", ".join(code(z.name) for z in model.platform.zones)
        out.append(f"Pods are pinned to the model's zones ({zones}) by node affinity on {code(ZONE_KEY)}, "
                   f"and prefer distinct nodes ({code(HOST_KEY)}).\n")
    floors = [[c.title, model.min_replicas(svc, c)] for c in model.clouds]
    out.append("**Replicas at rest per cloud overlay**:\n\n" + table(["Cloud", "Minimum replicas"], floors))
    return "\n".join(out)


# --------------------------------------------------------------------------- service and datastore pages


def service_page(model: NetShopModel, svc: Service, all_views: Views, objs: dict[tuple[str, str], dict],
                 policies: dict[str | None, list[tuple[int, dict]]], implemented: bool) -> str:
    ln = Links(model, "../")
    tier = model.tier_by_name[svc.tier]
    r = model.resources_of(svc)
    ns = model.platform.namespace
    facts = [
        ["Role", svc.role],
        ["Tier", f"{tier.title} ({code(svc.tier)}) — {tier.description}"],
        ["Port", code(svc.port)],
        ["Cluster DNS name", code(f"{svc.name}.{ns}.svc.cluster.local:{svc.port}")],
        ["Local address (`make up`)", f"{code(f'http://127.0.0.1:{svc.port}')}, simulated zone {code(local_placement(model).get(svc.name, '—'))}"],
        ["Resources", f"requests {r.cpu_request} CPU / {r.memory_request}, limits {r.cpu_limit} CPU / {r.memory_limit}"],
        ["SLO", f"{svc.slo.availability} % of requests without a 5xx; {svc.slo.latency_target} % within "
                f"{svc.slo.latency_ms} ms; over {svc.slo.window_days} days"],
        ["Secrets mounted", ", ".join(code(model.platform.jwt_secret) for s in svc.secrets if s == "jwt") or "none"],
        ["Kubernetes API access", "; ".join(
            f"{', '.join(a.verbs)} {', '.join(a.resources)}" + (" (cluster-wide)" if a.cluster_scoped else "")
            for a in svc.kube_access) or "none (no API token is mounted)"],
        ["Code", code(f"services/{svc.name.replace('-', '_')}/") if implemented else "not implemented yet"],
    ]
    body = [table(["Fact", "Value"], facts)]
    ctx = all_views.about("context", svc.name)
    if ctx:
        body.append(figure(ctx, "../"))

    body.append("## API\n")
    if svc.routes:
        rows = []
        for route in svc.routes:
            public = code("/api" + route.path) if route.public else "—"
            rows.append([code(route.method), code(route.path), route.summary, public, "yes" if route.auth else "—",
                         "yes" if route.safe_to_retry else "no"])
        body.append("Routes the model declares (the service serves exactly these; `tests/test_service_library.py` "
                    "proves it). Every service also serves `/healthz`, `/readyz`, `/metrics` and `/openapi.json`.\n\n"
                    + table(["Method", "Path", "Summary", "Public at the gateway", "User JWT", "Safe to retry"], rows))
    else:
        body.append("No routes beyond the operational ones (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`): "
                    "this service is reached only through its queues.\n")
    if implemented:
        body.append(OPENAPI_MARKER.format(name=svc.name) + "\n")

    stores = [e for e in model.all_data_edges if e.service == svc.name]
    body.append("## Datastores\n")
    body.append(table(["Datastore", "Kind", "Port", "What it keeps or reads there"],
                      [[ln.workload(e.datastore), model.datastore_by_name[e.datastore].kind,
                        code(model.datastore_by_name[e.datastore].port), e.purpose] for e in stores])
                or "None: the service keeps no state of its own.\n")

    inbound = [e for e in model.sync_edges if e.callee == svc.name]
    outbound = [e for e in model.sync_edges if e.caller == svc.name]
    body.append("## Calls into this service\n")
    rows = [[ln.workload(e.caller), route_refs(model, e), e.purpose] for e in inbound]
    if svc.name == model.platform.ingress.service:
        rows.insert(0, ["the ingress controller", f"{code(model.platform.ingress.host)} on port {code(svc.port)}",
                        "North/south entry of the platform"])
    body.append(table(["Caller", "Routes", "Purpose"], rows) or "None: no service calls it synchronously.\n")
    body.append("## Calls this service makes\n")
    body.append(table(["Callee", "Routes", "Purpose"], [[ln.workload(e.callee), route_refs(model, e), e.purpose] for e in outbound])
                or "None: its HTTP client refuses every peer, since the model declares none.\n")

    produced = model.events_produced_by(svc.name)
    consumed = model.subscriptions_of(svc.name)
    if produced or consumed:
        body.append("## Events\n")
        if produced:
            body.append(table(["Publishes", "Exchange", "Routing key"],
                              [[ln.event(e.name), code(e.exchange), code(e.routing_key)] for e in produced]))
        if consumed:
            body.append(table(["Consumes", "Queue", "Binding key", "Dead-letter queue", "Effect"],
                              [[ln.event(e.name), code(s.queue), code(s.binding_key), code(s.dead_letter_queue), s.effect]
                               for e, s in consumed]))

    body.append("## NetworkPolicies\n")
    body.append("The namespace denies everything by default; these policies select this service's pods and let "
                "through exactly what the model declares (one egress allow on the caller and one ingress allow on "
                "the callee per edge).\n\n"
                + table(["Policy", "Direction", "Peer", "Ports"], policy_rows(model, ln, svc.name, svc.tier, policies)))

    body.append(scaling_section(model, objs, svc))
    body.append(related(model, ln, svc.name, all_views))
    return page(svc.name, "\n".join(body))


def related(model: NetShopModel, ln: Links, name: str, all_views: Views) -> str:
    flows = [f for f in model.flows if any(name in (s.source, s.to) for s in f.steps)]
    drawn = all_views.drawing(name)
    out = []
    if flows:
        out.append("## Flows it takes part in\n\n" + "\n".join(f"- {ln.flow(f.name, f.title)}" for f in flows) + "\n")
    if drawn:
        out.append("## Diagrams it appears in\n\n" + "\n".join(f"- {ln.view(v)}" for v in drawn) + "\n")
    return "\n".join(out)


def datastore_page(model: NetShopModel, ds: Datastore, all_views: Views, policies: dict[str | None, list[tuple[int, dict]]]) -> str:
    ln = Links(model, "../")
    r = ds.resources
    facts = [
        ["Role", ds.role],
        ["Engine", ds.kind],
        ["Port", code(ds.port)],
        ["Cluster DNS name", code(f"{ds.name}.{model.platform.namespace}.svc.cluster.local:{ds.port}")],
        ["Image", code(ds.image)],
        ["Runs as user", code(ds.run_as_user)],
        ["Persistent volume", ds.storage],
        ["Resources", f"requests {r.cpu_request} CPU / {r.memory_request}, limits {r.cpu_limit} CPU / {r.memory_limit}"],
        ["Storage class per cloud", ", ".join(f"{c.name}: {code(c.storage_class)}" for c in model.clouds)],
    ]
    body = [table(["Fact", "Value"], facts)]
    ctx = all_views.about("context", ds.name)
    if ctx:
        body.append(figure(ctx, "../"))
    body.append("## Clients\n")
    body.append(table(["Service", "What it keeps or reads there"],
                      [[ln.workload(e.service), e.purpose] for e in model.all_data_edges if e.datastore == ds.name])
                or "No service connects to it.\n")
    exchanges = [x for x in model.exchanges if x.broker == ds.name]
    if exchanges:
        body.append("## Exchanges\n")
        body.append(table(["Exchange", "Type", "Dead-letter exchange"],
                          [[f"[{x.name}](../events.md#{anchor('exchange-' + x.name)})", x.type, code(x.dead_letter_exchange)]
                           for x in exchanges]))
    body.append("## NetworkPolicies\n")
    body.append(table(["Policy", "Direction", "Peer", "Ports"], policy_rows(model, ln, ds.name, "data", policies)))
    body.append(related(model, ln, ds.name, all_views))
    return page(ds.name, "\n".join(body))


def services_index(model: NetShopModel) -> str:
    ln = Links(model, "../")
    body = [f"{len(model.services)} services in {len({s.tier for s in model.services})} tiers and "
            f"{len(model.datastores)} datastores in the data tier. Each page below is generated from "
            "`model/netshop.yaml`.\n"]
    for tier in model.platform.tiers:
        rows = [[ln.workload(s.name), code(s.port), s.role, f"{s.scaling.min} – {s.scaling.max}"]
                for s in model.services if s.tier == tier.name]
        if tier.name == "data":
            rows = [[ln.workload(d.name), code(d.port), d.role, "1 (StatefulSet)"] for d in model.datastores]
        if rows:
            body.append(f"## {tier.title} tier {{ #{anchor('tier-' + tier.name)} }}\n\n{tier.description}\n\n"
                        + table(["Workload", "Port", "Role", "Replicas"], rows))
    return page("Services", "\n".join(body))


# --------------------------------------------------------------------------- events and flows


def events_page(model: NetShopModel, all_views: Views) -> str:
    ln = Links(model, "")
    body = ["Every asynchronous fact the platform publishes, where it goes and who consumes it. Each consumer "
            "owns a durable quorum queue bound to the exchange; a message it rejects for good, or that exceeds "
            "its delivery limit, goes to the exchange's dead-letter exchange and on to the consumer's "
            "dead-letter queue.\n"]
    body.append("## Exchanges\n")
    for x in model.exchanges:
        body.append(f"### {x.name} {{ #{anchor('exchange-' + x.name)} }}\n\n"
                    + table(["Fact", "Value"], [["Type", x.type], ["Broker", ln.workload(x.broker)],
                                       ["Dead-letter exchange", code(x.dead_letter_exchange)],
                                       ["Events", ", ".join(ln.event(e.name) for e in model.events if e.exchange == x.name) or "none"]]))
    body.append("## Events\n")
    for e in model.events:
        body.append(f"### {e.name} {{ #{anchor('event-' + e.name)} }}\n\n{e.description}\n")
        body.append(table(["Fact", "Value"], [["Exchange", f"[{e.exchange}](#{anchor('exchange-' + e.exchange)})"],
                                     ["Routing key", code(e.routing_key)], ["Producer", ln.workload(e.producer)]]))
        body.append("**Payload** (JSON):\n\n" + table(["Field", "Type", "Meaning"],
                                                      [[code(p.name), p.type, p.description] for p in e.payload]))
        if e.subscriptions:
            dlx = model.exchange_by_name[e.exchange].dead_letter_exchange if e.exchange in model.exchange_by_name else "—"
            body.append("**Consumers**:\n\n" + table(
                ["Consumer", "Queue", "Binding key", "Max deliveries", "Dead letters", "Effect (exactly once)"],
                [[ln.workload(s.consumer), code(s.queue), code(s.binding_key), s.max_deliveries,
                  f"{code(dlx)} → {code(s.dead_letter_queue)}", s.effect] for s in e.subscriptions]))
        else:
            body.append("No consumer subscribes to it yet.\n")
        flows = [f for f in model.flows if any(s.event == e.name for s in f.steps)]
        if flows:
            body.append("Flows: " + ", ".join(ln.flow(f.name, f.title) for f in flows) + "\n")
        for v in all_views.on(e.name):
            body.append(figure(v, ""))
    return page("Event catalogue", "\n".join(body))


def flow_page(model: NetShopModel, flow, all_views: Views) -> str:
    ln = Links(model, "../")
    body = [one_line(flow.description) + "\n"]
    seq = all_views.about("sequence", flow.name)
    if seq:
        body.append(figure(seq, "../"))
    rows = []
    for i, s in enumerate(flow.steps, 1):
        if s.kind == "call":
            kind = "data" if s.to in model.datastore_by_name else "call"
            what = code(s.route) if s.route else "connection"
            rows.append([i, kind, ln.workload(s.source), ln.workload(s.to), what, s.note])
        elif s.kind == "publish":
            producer = model.event_by_name[s.event].producer if s.event in model.event_by_name else "—"
            rows.append([i, "publish", ln.workload(producer), code(model.event_by_name[s.event].exchange) if s.event in model.event_by_name else "—",
                         ln.event(s.event), s.note])
        else:
            event = model.event_by_name.get(s.event)
            queue = next((sub.queue for sub in event.subscriptions if sub.consumer == s.to), None) if event else None
            rows.append([i, "consume", f"queue {code(queue)}" if queue else "—", ln.workload(s.to), ln.event(s.event), s.note])
    body.append("## Steps\n\n" + table(["#", "Kind", "From", "To", "Route or event", "What happens"], rows))
    others = [v for v in all_views.on(flow.name) if v is not seq]
    for v in others:
        body.append(f"## {one_line(v.title)}\n\n" + figure(v, "../"))
    return page(flow.title, "\n".join(body))


def flows_index(model: NetShopModel) -> str:
    rows = [[f"[{f.title}]({f.name}.md)", one_line(f.description), len(f.steps)] for f in model.flows]
    return page("Flows", "Each end-to-end path the model declares, step by step over its edges and events.\n\n"
                + table(["Flow", "What it achieves", "Steps"], rows))


# --------------------------------------------------------------------------- gallery


def gallery(model: NetShopModel, all_views: Views) -> str:
    ln = Links(model, "")
    body = [f"All {len(all_views.all)} diagram views, each drawn from the model by the `diagrams` family. The key of a "
            "view names its files in `generated/diagrams/`: the DOT source (compared by the drift gate), the "
            "SVG shown here and the PNG used by the README and the report. Click a picture to open it full size.\n"]
    kinds = list(GALLERY) + sorted({v.kind for v in all_views.all} - set(GALLERY))
    for kind in kinds:
        members = [v for v in all_views.all if v.kind == kind]
        if not members:
            continue
        body.append(f"## {GALLERY.get(kind, kind.title())}\n")
        for v in members:
            about = ""
            if v.subject in model.service_by_name or v.subject in model.datastore_by_name:
                about = f" About {ln.workload(v.subject)}."
            elif any(f.name == v.subject for f in model.flows):
                about = f" Flow: {ln.flow(v.subject, next(f.title for f in model.flows if f.name == v.subject))}."
            elif v.subject in model.event_by_name:
                about = f" Event: {ln.event(v.subject)}."
            source = f" · [DOT source](diagrams/{v.key}.dot)" if v.dot else ""
            body.append(f"### {one_line(v.title)} {{ #{v.key} }}\n\n"
                        f"[![{cell(one_line(v.title))}](diagrams/{v.key}.svg){{ loading=lazy }}](diagrams/{v.key}.svg)\n\n"
                        f"{one_line(v.caption)}{about}\n\nKey {code(v.key)}{source}\n")
    return page("Diagram gallery", "\n".join(body))


# --------------------------------------------------------------------------- model reference


def _type(schema: dict) -> str:
    """A JSON Schema type in words, with links to the sections of referenced types."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{anchor('type-' + name)})"
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(code(v) for v in schema["enum"])
    if "const" in schema:
        return code(schema["const"])
    t = schema.get("type")
    if t == "array":
        return "list of " + _type(schema.get("items", {}))
    if t == "object":
        extra = schema.get("additionalProperties")
        return "map of string → " + _type(extra) if isinstance(extra, dict) else "object"
    return {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "null": "null"}.get(t, "any")


def _constraints(schema: dict) -> str:
    words = []
    for key, label in (("pattern", "pattern"), ("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"),
                       ("exclusiveMaximum", "<"), ("minLength", "min length"), ("maxLength", "max length"),
                       ("minItems", "at least"), ):
        if key in schema:
            words.append(f"{label} {code(schema[key])}")
    for s in schema.get("anyOf", []):
        words += [w for w in _constraints(s).split("; ") if w]
    return "; ".join(words)


def model_reference() -> str:
    schema = NetShopModel.model_json_schema(by_alias=True)
    defs = {"NetShopModel": {k: v for k, v in schema.items() if k != "$defs"}, **schema.get("$defs", {})}
    body = ["Every field of `model/netshop.yaml`, from the descriptions in `model/schema.py`. The schema is "
            "strict: unknown keys are errors, and `netshop model validate` names the file, line, YAML path and "
            "fix of each violation. Editors autocomplete the model from `generated/model.schema.json`.\n"]
    order = ["NetShopModel"] + sorted(k for k in defs if k != "NetShopModel")
    for name in order:
        d = defs[name]
        required = set(d.get("required", []))
        rows = []
        for field, prop in d.get("properties", {}).items():
            default = "required" if field in required else (code(_default(prop["default"])) if "default" in prop else "optional")
            rows.append([code(field), _type(prop), default, prop.get("description", ""), _constraints(prop) or "—"])
        title = "NetShopModel (the file's top level)" if name == "NetShopModel" else name
        body.append(f"## {title} {{ #{anchor('type-' + name)} }}\n\n{one_line(d.get('description', ''))}\n\n"
                    + table(["Field", "Type", "Default", "Meaning", "Constraints"], rows))
    return page("Model reference", "\n".join(body))


def _default(value: object) -> str:
    if isinstance(value, (dict, list)):
        return to_yaml(value).strip().replace("\n", ", ") if value else ("{}" if isinstance(value, dict) else "[]")
    return str(value).lower() if isinstance(value, bool) else str(value)


# --------------------------------------------------------------------------- navigation and the family


def nav(model: NetShopModel) -> list:
    """The site's Reference section; the mkdocs hook appends it to `nav` in mkdocs.yml."""
    tiers = []
    for tier in model.platform.tiers:
        names = [s.name for s in model.services if s.tier == tier.name]
        if names:
            tiers.append({f"{tier.title} tier": [{n: f"services/{n}.md"} for n in names]})
    return [{"Reference": [
        {"Services": ["services/index.md", *tiers,
                      {"Datastores": [{d.name: f"datastores/{d.name}.md"} for d in model.datastores]}]},
        {"Event catalogue": "events.md"},
        {"Flows": ["flows/index.md", *({f.title: f"flows/{f.name}.md"} for f in model.flows)]},
        {"Diagram gallery": "diagrams.md"},
        {"Model reference": "model-reference.md"},
    ]}]


def implemented(name: str) -> bool:
    """Whether `services/<name>/app.py` exists (a service declared in the model may not have code yet)."""
    try:
        return importlib.util.find_spec(f"services.{name.replace('-', '_')}.app") is not None
    except ModuleNotFoundError:  # not even the package services/<name>/
        return False


def generate(model: NetShopModel) -> Iterator[Artifact]:
    all_views = Views(views(model))
    objs = {(o["kind"], o["metadata"]["name"]): o for o in objects(model)}
    policies = by_workload(networkpolicies.policies(model))
    yield Artifact(f"{ROOT}nav.yml", header(__name__) + to_yaml({"nav": nav(model)}))
    yield Artifact(f"{ROOT}services/index.md", services_index(model))
    for svc in model.services:
        yield Artifact(f"{ROOT}services/{svc.name}.md", service_page(model, svc, all_views, objs, policies, implemented(svc.name)))
    for ds in model.datastores:
        yield Artifact(f"{ROOT}datastores/{ds.name}.md", datastore_page(model, ds, all_views, policies))
    yield Artifact(f"{ROOT}events.md", events_page(model, all_views))
    yield Artifact(f"{ROOT}flows/index.md", flows_index(model))
    for flow in model.flows:
        yield Artifact(f"{ROOT}flows/{flow.name}.md", flow_page(model, flow, all_views))
    yield Artifact(f"{ROOT}diagrams.md", gallery(model, all_views))
    yield Artifact(f"{ROOT}model-reference.md", model_reference())
