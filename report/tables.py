"""The report's tables, computed from the model (and from the generators' own objects) at build time.

Each table is a view over the model: rows are derived here, never typed into the chapters, so an
added service, edge or event appears in every table it belongs to on the next `make report`.
Labels and captions come from the edition's `Labels`; model text (roles, purposes) is quoted as is.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from generators import k8s as k8s_gen
from generators import networkpolicies
from model.schema import NetShopModel

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Cell:
    """One table cell: text, and whether it is an identifier (set in code type, always left-to-right)."""

    text: str
    code: bool = False
    number: bool = False


@dataclass
class Table:
    """A numbered table: a key (its anchor), a caption, column headers and rows of cells."""

    key: str
    caption: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    widths: list[str] | None = None


def code(text: object) -> Cell:
    return Cell(str(text), code=True)


def num(value: object) -> Cell:
    return Cell(str(value), number=True)


def text(value: object) -> Cell:
    return Cell(str(value))


def _ids(names: list[str]) -> Cell:
    return code(", ".join(names) if names else "—")


def services(model: NetShopModel, L) -> Table:
    """Every service, then the data tier as one row (the seed's sixteenth row)."""
    t = Table("services", L.t_services, [L.h_service, L.h_tier, L.h_port, L.h_replicas, L.h_datastores, L.h_role],
              widths=["18%", "10%", "8%", "9%", "19%", "36%"])
    for s in model.services:
        t.rows.append([code(s.name), text(L.tier(s.tier)), code(s.port), num(f"{s.scaling.min}–{s.scaling.max}"),
                       _ids([d.name for d in model.datastores_of(s.name)]), text(s.role)])
    if model.datastores:
        t.rows.append([code(" / ".join(d.name for d in model.datastores)), text(L.tier("data")),
                       code(" / ".join(str(d.port) for d in model.datastores)), text("—"), text("—"),
                       text("; ".join(d.role for d in model.datastores))])
    return t


def datastores(model: NetShopModel, L) -> Table:
    t = Table("datastores", L.t_datastores, [L.h_datastore, L.h_kind, L.h_port, L.h_image, L.h_storage, L.h_clients])
    for d in model.datastores:
        t.rows.append([code(d.name), code(d.kind), code(d.port), code(d.image), code(d.storage), _ids(model.clients_of(d.name))])
    return t


def routes(model: NetShopModel, L) -> Table:
    """The public API: every route the gateway exposes at /api, with its owner and whether it needs a token."""
    t = Table("public-api", L.t_public_api, [L.h_service, L.h_route, L.h_auth, L.h_summary], widths=["14%", "38%", "8%", "40%"])
    for s in model.services:
        for r in s.routes:
            if r.public:
                t.rows.append([code(s.name), code(f"{r.method} /api{r.path}"), text(L.yes if r.auth else L.no), text(r.summary)])
    return t


def sync_edges(model: NetShopModel, L) -> Table:
    t = Table("sync-edges", L.t_sync_edges, [L.h_edge, L.h_port, L.h_granted, L.h_purpose], widths=["27%", "8%", "30%", "35%"])
    for e in model.sync_edges:
        granted = model.routes_of_edge(e)
        refs = ", ".join(e.routes)
        t.rows.append([code(f"{e.caller} → {e.callee}"), code(model.port_of(e.callee)),
                       code(f"{refs} ({L.routes_count(len(granted))})"), text(e.purpose)])
    return t


def data_edges(model: NetShopModel, L) -> Table:
    t = Table("data-edges", L.t_data_edges, [L.h_edge, L.h_port, L.h_purpose], widths=["30%", "10%", "60%"])
    for e in model.all_data_edges:
        t.rows.append([code(f"{e.service} → {e.datastore}"), code(model.port_of(e.datastore)), text(e.purpose)])
    return t


def events(model: NetShopModel, L) -> Table:
    t = Table("events", L.t_events, [L.h_event, L.h_exchange, L.h_routing_key, L.h_producer, L.h_payload])
    for e in model.events:
        x = model.exchange_by_name.get(e.exchange)
        exchange = f"{e.exchange} ({x.type}, DLX {x.dead_letter_exchange})" if x else e.exchange
        t.rows.append([code(e.name), code(exchange), code(e.routing_key), code(e.producer), _ids([p.name for p in e.payload])])
    return t


def queues(model: NetShopModel, L) -> Table:
    t = Table("queues", L.t_queues, [L.h_consumer, L.h_queue, L.h_binding, L.h_dlq, L.h_deliveries, L.h_effect],
              widths=["13%", "22%", "11%", "22%", "8%", "24%"])
    for e in model.events:
        for s in e.subscriptions:
            t.rows.append([code(s.consumer), code(s.queue), code(s.binding_key), code(s.dead_letter_queue),
                           num(s.max_deliveries), text(s.effect)])
    return t


def _selector_text(pod: dict, L) -> str:
    labels = pod.get("matchLabels") or {}
    if "app.kubernetes.io/name" in labels:
        return labels["app.kubernetes.io/name"]
    for expr in pod.get("matchExpressions") or []:
        return f"{expr['key'].split('/')[-1]} in ({', '.join(expr['values'])})"
    return L.all_pods


def _peer_text(peers: list[dict], L) -> str:
    out = []
    for p in peers:
        if "ipBlock" in p:
            out.append(p["ipBlock"]["cidr"])
            continue
        ns = (p.get("namespaceSelector") or {}).get("matchLabels", {}).get(networkpolicies.NS_KEY)
        pod = p.get("podSelector")
        who = _selector_text(pod, L) if pod is not None else L.all_pods
        out.append(f"{ns}/{who}" if ns else who)
    return ", ".join(out)


def network_policies(model: NetShopModel, L) -> Table:
    """The NetworkPolicies exactly as the `policies` family renders them for this model."""
    t = Table("network-policies", L.t_network_policies, [L.h_policy, L.h_applies_to, L.h_direction, L.h_peer, L.h_ports],
              widths=["37%", "13%", "9%", "25%", "16%"])
    for p in networkpolicies.policies(model):
        spec = p["spec"]
        target = _selector_text(spec["podSelector"], L)
        rules = [(L.ingress, r.get("from", []), r.get("ports", [])) for r in spec.get("ingress", [])]
        rules += [(L.egress, r.get("to", []), r.get("ports", [])) for r in spec.get("egress", [])]
        if not rules:
            t.rows.append([code(p["metadata"]["name"]), code(target), text(" + ".join(L.direction(d) for d in spec["policyTypes"])),
                           text(L.deny_all), text("—")])
        for direction, peers, ports in rules:
            port_text = ", ".join(f"{x['protocol']}/{x['port']}" for x in ports)
            t.rows.append([code(p["metadata"]["name"]), code(target), text(direction), code(_peer_text(peers, L)), code(port_text)])
    return t


def autoscaling(model: NetShopModel, L) -> Table:
    """HPA and PDB per service, read back from the Deployment, HPA and PDB objects the manifests family renders."""
    objects = k8s_gen.objects(model)
    by = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    t = Table("autoscaling", L.t_autoscaling,
              [L.h_service, L.h_min, L.h_max, L.h_cpu, L.h_memory, L.h_windows, L.h_pdb, L.h_spread])
    for s in model.services:
        hpa = by.get(("HorizontalPodAutoscaler", s.name), {}).get("spec", {})
        pdb = by.get(("PodDisruptionBudget", s.name), {}).get("spec", {})
        dep = by.get(("Deployment", s.name), {}).get("spec", {})
        metrics = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa.get("metrics", [])}
        beh = hpa.get("behavior", {})
        windows = f"{beh.get('scaleUp', {}).get('stabilizationWindowSeconds', '—')} s / {beh.get('scaleDown', {}).get('stabilizationWindowSeconds', '—')} s"
        spread = dep.get("template", {}).get("spec", {}).get("topologySpreadConstraints", [{}])[0]
        t.rows.append([
            code(s.name), num(hpa.get("minReplicas", "—")), num(hpa.get("maxReplicas", "—")),
            num(f"{metrics['cpu']}%" if "cpu" in metrics else "—"), num(f"{metrics['memory']}%" if "memory" in metrics else "—"),
            num(windows), num(pdb.get("maxUnavailable", pdb.get("minAvailable", "—"))),
            code(f"maxSkew {spread.get('maxSkew', '—')}, {spread.get('whenUnsatisfiable', '—')}"),
        ])
    return t


def resources(model: NetShopModel, L) -> Table:
    t = Table("resources", L.t_resources, [L.h_service, L.h_cpu_req, L.h_cpu_lim, L.h_mem_req, L.h_mem_lim, L.h_slo])
    for s in model.services:
        r = model.resources_of(s)
        slo = f"{s.slo.availability}% · {s.slo.latency_target}% < {s.slo.latency_ms} ms · {s.slo.window_days} d"
        t.rows.append([code(s.name), code(r.cpu_request), code(r.cpu_limit), code(r.memory_request), code(r.memory_limit), num(slo)])
    return t


def zones(model: NetShopModel, L) -> Table:
    t = Table("zones", L.t_zones, [L.h_cloud, L.h_region, *[z.name for z in model.platform.zones], L.h_storage_class, L.h_nodes])
    for c in model.clouds:
        t.rows.append([code(c.name), code(c.region), *[code(c.zones.get(z.name, "—")) for z in model.platform.zones],
                       code(c.storage_class), code(f"{c.nodes_per_zone} × {c.node_type}")])
    return t


def clouds(model: NetShopModel, L) -> Table:
    t = Table("clouds", L.t_clouds, [L.h_cloud, L.h_ingress_class, L.h_ingress_source, L.h_floors])
    for c in model.clouds:
        src = c.ingress_source
        source = ", ".join(src.cidrs) if src.cidrs else f"{src.namespace}/{','.join(f'{k}={v}' for k, v in src.labels.items())}"
        floors = ", ".join(f"{tier} ≥ {n}" for tier, n in sorted(c.replicas.items())) or L.model_minimum
        t.rows.append([code(c.name), code(c.ingress_class), code(source), code(floors)])
    return t


def flows(model: NetShopModel, L) -> Table:
    t = Table("flows", L.t_flows, [L.h_flow, L.h_steps, L.h_touches, L.h_description], widths=["17%", "7%", "30%", "46%"])
    for f in model.flows:
        touched = sorted({x for s in f.steps for x in (s.source, s.to) if x})
        t.rows.append([code(f.name), num(len(f.steps)), _ids(touched), text(f.description)])
    return t


def capabilities(model: NetShopModel, L) -> Table:
    """Each capability with the number of generated files that implement it (from generated/MANIFEST)."""
    manifest = REPO / "generated" / "MANIFEST"
    paths = [line.strip() for line in manifest.read_text().splitlines() if line.strip() and not line.startswith("#")] if manifest.exists() else []
    t = Table("capabilities", L.t_capabilities, [L.h_capability, L.h_artifacts, L.h_files], widths=["25%", "55%", "20%"])
    for c in model.capabilities:
        count = 0
        for a in c.artifacts:
            rel = a.removeprefix("generated/").rstrip("/")
            count += sum(1 for p in paths if p.split()[-1] == rel or p.split()[-1].startswith(rel + "/"))
        t.rows.append([text(L.capability(c.id, c.title)), _ids(c.artifacts), num(count)])
    return t


def test_modules(L) -> Table:
    """The suite as it stands: each test module, its first docstring line and its number of tests."""
    t = Table("test-suite", L.t_tests, [L.h_module, L.h_tests, L.h_proves], widths=["26%", "8%", "66%"])
    for path in sorted((REPO / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        doc = (ast.get_docstring(tree) or "").split("\n\n")[0].replace("\n", " ")
        count = sum(1 for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test_"))
        t.rows.append([code(path.name), num(count), text(doc)])
    return t


def results(L) -> Table | None:
    """Checks recorded by the proving suites (bench/results/*.json, the shared result format), newest per suite."""
    latest: dict[str, dict] = {}
    for path in sorted((REPO / "bench" / "results").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "suite" in data and "checks" in data:
            latest[data["suite"]] = data
    if not latest:
        return None
    t = Table("results", L.t_results, [L.h_suite, L.h_check, L.h_value, L.h_target, L.h_pass])
    for suite, data in sorted(latest.items()):
        for c in data["checks"]:
            t.rows.append([code(suite), text(c.get("name", "")), num(c.get("value", "")), text(c.get("target", "")),
                           text(L.yes if c.get("pass") else L.no)])
    return t


BUNDLE_FAMILIES = ("service-mesh", "observability", "data-ha", "gitops", "security")


# (id(model), family) -> (model, counts): both editions of one build share the family's render
_KIND_COUNTS: dict[tuple[int, str], tuple[NetShopModel, dict[tuple[str, str], int]]] = {}


def kind_counts(model: NetShopModel, family: str) -> dict[tuple[str, str], int]:
    """(file, kind) -> number of objects the family renders for this model (top-level YAML documents)."""
    import yaml

    from netshop.pipeline import render

    hit = _KIND_COUNTS.get((id(model), family))
    if hit is not None and hit[0] is model:
        return hit[1]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    counts: dict[tuple[str, str], int] = {}
    for path, content in sorted(render(model, only=[family]).items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.load_all(content, Loader=loader):
            if isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc:
                key = (path, f"{doc['kind']} ({doc['apiVersion'].split('/')[0]})")
                counts[key] = counts.get(key, 0) + 1
    _KIND_COUNTS[(id(model), family)] = (model, counts)
    return counts


def bundle_kinds(model: NetShopModel, family: str, L) -> Table:
    """The objects a capability family renders for this model, counted by file and kind."""
    t = Table(f"kinds-{family}", L.kinds_caption.format(family=family), [L.h_file, L.h_kind_api, L.h_count],
              widths=["45%", "43%", "12%"])
    for (path, kind), n in sorted(kind_counts(model, family).items()):
        t.rows.append([code(path), code(kind), num(n)])
    return t


def all_tables(model: NetShopModel, L) -> dict[str, Table]:
    """Every table of the report, by key."""
    out = [services(model, L), datastores(model, L), routes(model, L), sync_edges(model, L), data_edges(model, L),
           events(model, L), queues(model, L), network_policies(model, L), autoscaling(model, L), resources(model, L),
           zones(model, L), clouds(model, L), flows(model, L), capabilities(model, L), test_modules(L)]
    out += [bundle_kinds(model, f, L) for f in BUNDLE_FAMILIES]
    res = results(L)
    if res is not None:
        out.append(res)
    return {t.key: t for t in out}
