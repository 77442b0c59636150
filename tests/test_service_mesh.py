"""The service-mesh bundles authorise exactly the model's edges and validate offline.

Allowed pairs and routes are computed from the generated YAML with small, independent readers of
Linkerd and Istio semantics (identities, principals, path templates) and compared with the model.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import build, with_new_service
from crd_validation import load_docs as documents
from crd_validation import problems as schema_errors
from k8s_build import KUBECTL

from netshop.pipeline import render

REPO = Path(__file__).resolve().parent.parent
MESH = REPO / "generated" / "service-mesh"
BUNDLES = ("linkerd", "istio", "gateway-api", "cilium")
NAME = "app.kubernetes.io/name"


def bundle(name: str, files: dict[str, bytes] | None = None) -> list[dict]:
    if files is not None:
        return [d for d in yaml.safe_load_all(files[f"service-mesh/{name}/{name}.yaml"]) if d]
    return documents(MESH / name / f"{name}.yaml")


def by_kind(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def model_pairs(model) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in model.edges}


# --------------------------------------------------------------------------- readers of mesh semantics


def linkerd_pairs(objs: list[dict], namespace: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(caller SA in the namespace -> workload) pairs, and (outside identity -> workload) pairs."""
    servers = {o["metadata"]["name"]: o["spec"]["podSelector"]["matchLabels"][NAME] for o in by_kind(objs, "Server")}
    authn = {o["metadata"]["name"]: o["spec"]["identities"] for o in by_kind(objs, "MeshTLSAuthentication")}
    authn |= {o["metadata"]["name"]: [n["cidr"] for n in o["spec"]["networks"]] for o in by_kind(objs, "NetworkAuthentication")}
    inside, outside = set(), set()
    suffix = f".{namespace}.serviceaccount.identity.linkerd.cluster.local"
    for pol in by_kind(objs, "AuthorizationPolicy"):
        target = pol["spec"]["targetRef"]
        assert target["kind"] == "Server", pol["metadata"]["name"]
        for ref in pol["spec"]["requiredAuthenticationRefs"]:
            for ident in authn[ref["name"]]:
                if ident.endswith(suffix) and not ident.startswith("*"):
                    inside.add((ident.removesuffix(suffix), servers[target["name"]]))
                else:
                    outside.add((ident, servers[target["name"]]))
    return inside, outside


def istio_allow_rules(objs: list[dict]) -> list[tuple[str, dict]]:
    """(workload, rule) for every rule of every ALLOW policy that selects one workload."""
    out = []
    for pol in by_kind(objs, "AuthorizationPolicy"):
        spec = pol["spec"]
        if spec.get("action", "ALLOW") != "ALLOW" or "selector" not in spec:
            continue
        workload = spec["selector"]["matchLabels"][NAME]
        out += [(workload, rule) for rule in spec.get("rules", [])]
    return out


def istio_pairs(objs: list[dict], namespace: str) -> set[tuple[str, str]]:
    prefix = f"cluster.local/ns/{namespace}/sa/"
    pairs = set()
    for workload, rule in istio_allow_rules(objs):
        for src in rule.get("from", []):
            for principal in src["source"].get("principals", []):
                if principal.startswith(prefix) and "*" not in principal:
                    pairs.add((principal.removeprefix(prefix), workload))
    return pairs


def istio_path_matches(pattern: str, path: str) -> bool:
    """Istio `paths`: exact, `prefix*`, `*suffix`, `*`, and Envoy URI templates `{*}` / `{**}`."""
    if "{*}" in pattern or "{**}" in pattern:
        rx = "".join(
            "[^/]+" if tok == "{*}" else ".*" if tok == "{**}" else re.escape(tok)
            for tok in re.split(r"(\{\*\*\}|\{\*\})", pattern)
        )
        return re.fullmatch(rx, path) is not None
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return pattern == path


def istio_allows(objs: list[dict], namespace: str, caller: str, callee: str, method: str, path: str) -> bool:
    principal = f"cluster.local/ns/{namespace}/sa/{caller}"
    for pol in by_kind(objs, "AuthorizationPolicy"):
        spec = pol["spec"]
        if spec.get("action") == "DENY" and spec["selector"]["matchLabels"][NAME] == callee:
            for rule in spec["rules"]:
                if _ops_match(rule.get("to", []), method, path) and rule.get("when"):
                    # the only DENY conditions are "no bearer token": requests here carry none
                    assert rule["when"] == [{"key": "request.headers[authorization]", "notValues": ["Bearer *"]}]
                    return False
    for workload, rule in istio_allow_rules(objs):
        if workload != callee:
            continue
        principals = [p for src in rule.get("from", []) for p in src["source"].get("principals", [])]
        if principal in principals and _ops_match(rule.get("to", []), method, path):
            return True
    return False


def _ops_match(ops: list[dict], method: str, path: str) -> bool:
    for op in (o["operation"] for o in ops):
        if "methods" in op and method not in op["methods"]:
            continue
        if "paths" in op and not any(istio_path_matches(p, path) for p in op["paths"]):
            continue
        return True
    return False


# --------------------------------------------------------------------------- route samples from the model


def sample(path: str) -> str:
    """A concrete request path for a model route: every placeholder becomes one segment."""
    return re.sub(r"\{[^}]+\}", "x1", path)


def template_matches(route, path: str) -> bool:
    """The router's reading of a route: a placeholder is one path segment, except the trailing one of an
    `ANY` pass-through route, which takes the rest of the path."""
    tokens = re.split(r"(\{[^}]+\})", route.path)
    rest = route.method == "ANY" and route.path.endswith("}")
    rx = "".join(
        (".+" if rest and i == len(tokens) - 2 else "[^/]+") if t.startswith("{") else re.escape(t)
        for i, t in enumerate(tokens)
    )
    return re.fullmatch(rx, path) is not None


def gateway_of(model):
    """The public API gateway: the service that calls other services' `public` routes through a proxy route."""
    for svc in model.services:
        proxies = [r for r in svc.routes if r.method == "ANY" and r.path.endswith("}")]
        if proxies and any(e.caller == svc.name and "public" in e.routes for e in model.sync_edges):
            return svc, proxies[0]
    return None, None


def expected_requests(model, edge) -> list[tuple[str, str, bool]]:
    """(method, path, allowed) requests over one sync edge, from the model alone."""
    callee = model.service_by_name[edge.callee]
    granted = model.routes_of_edge(edge)
    gw, proxy = gateway_of(model)
    out = []
    for route in callee.routes:
        if gw is not None and callee.name == gw.name and route.ref == proxy.ref:
            prefix = proxy.path[: proxy.path.index("{")].rstrip("/")
            allowed_proxy = route in granted
            for e in model.sync_edges:
                if e.caller != gw.name:
                    continue
                for r in model.routes_of_edge(e):
                    if r.public:
                        out.append((r.method, prefix + sample(r.path), allowed_proxy))
            out.append(("GET", prefix + "/not-a-declared/route", False))
            continue
        methods = [route.method] if route.method != "ANY" else ["GET", "POST"]
        if route.method in ("GET", "POST"):
            methods.append("DELETE")  # a method the route does not declare
        paths = [sample(route.path)]
        if "{" in route.path:
            paths.append(re.sub(r"\{[^}]+\}", "x1/x2", route.path))  # two segments where one belongs
        for m in methods:
            for p in paths:
                ok = any(g.method in (m, "ANY") and template_matches(g, p) for g in granted)
                out.append((m, p, ok))
    return out


# --------------------------------------------------------------------------- schema validity


@pytest.mark.parametrize("name", BUNDLES)
def test_every_mesh_object_validates_against_its_schema(name):
    objs = bundle(name)
    assert objs
    errors = [err for obj in objs for err in schema_errors(obj)]
    assert not errors, "\n".join(errors)


def test_components_apply_on_the_platform_base_and_replace_what_they_must(tmp_path, netshop):
    (tmp_path / "netshop.yaml").write_bytes((REPO / "generated" / "k8s" / "netshop.yaml").read_bytes())
    rel = os.path.relpath(MESH, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["netshop.yaml"], "components": [f"{rel}/{b}" for b in BUNDLES]})
    )
    out = subprocess.run([str(KUBECTL), "kustomize", str(tmp_path)], capture_output=True, text=True, check=True).stdout
    objs = [d for d in yaml.safe_load_all(out) if d]
    errors = [err for obj in objs for err in schema_errors(obj)]
    assert not errors, "\n".join(errors)

    ns = next(o for o in objs if o["kind"] == "Namespace" and o["metadata"]["name"] == netshop.platform.namespace)
    assert ns["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
    assert ns["metadata"]["labels"]["istio-injection"] == "enabled"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"  # the base's labels survive

    policies = {o["metadata"]["name"] for o in objs if o["kind"] == "NetworkPolicy"}
    for e in netshop.sync_edges:
        assert f"allow-{e.caller}-to-{e.callee}-ingress" not in policies  # Cilium's L7 policy replaces it
        assert f"allow-{e.caller}-to-{e.callee}-egress" in policies
    for e in netshop.all_data_edges:
        assert f"allow-{e.service}-to-{e.datastore}-ingress" in policies
    assert "default-deny" in policies and "allow-dns-egress" not in policies


# --------------------------------------------------------------------------- Linkerd


def test_linkerd_authorises_exactly_the_model_edges(netshop):
    inside, outside = linkerd_pairs(bundle("linkerd"), netshop.platform.namespace)
    assert inside == model_pairs(netshop)
    ing = netshop.platform.ingress
    tel = netshop.platform.telemetry
    expected_outside = {(f"*.{tel.scraper_namespace}.serviceaccount.identity.linkerd.cluster.local", s.name) for s in netshop.services}
    expected_outside.add((f"*.{ing.source.namespace}.serviceaccount.identity.linkerd.cluster.local", ing.service))
    assert outside == expected_outside


def test_linkerd_has_one_server_per_workload_on_its_declared_port(netshop):
    servers = {o["spec"]["podSelector"]["matchLabels"][NAME]: o["spec"] for o in by_kind(bundle("linkerd"), "Server")}
    assert set(servers) == set(netshop.workload_names)
    base = documents(REPO / "generated" / "k8s" / "netshop.yaml")
    for obj in base:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        name = obj["metadata"]["name"]
        ports = {p["name"]: p["containerPort"] for c in obj["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert ports[servers[name]["port"]] == netshop.port_of(name)
        assert servers[name]["proxyProtocol"] == ("opaque" if name in netshop.datastore_by_name else "HTTP/1")


def test_linkerd_locks_each_datastore_to_its_declared_clients(netshop):
    inside, _ = linkerd_pairs(bundle("linkerd"), netshop.platform.namespace)
    for ds in netshop.datastores:
        assert {c for c, t in inside if t == ds.name} == set(netshop.clients_of(ds.name))


# --------------------------------------------------------------------------- Istio


def test_istio_is_strict_mtls_with_deny_by_default():
    objs = bundle("istio")
    peer = by_kind(objs, "PeerAuthentication")
    assert [p["spec"] for p in peer] == [{"mtls": {"mode": "STRICT"}}] and "selector" not in peer[0]["spec"]
    assert any(p["metadata"]["name"] == "deny-all" and p["spec"] == {} for p in by_kind(objs, "AuthorizationPolicy"))


def test_istio_authorises_exactly_the_model_edges(netshop):
    assert istio_pairs(bundle("istio"), netshop.platform.namespace) == model_pairs(netshop)


def test_istio_allows_exactly_the_granted_routes_of_each_edge(netshop):
    objs = bundle("istio")
    ns = netshop.platform.namespace
    checked = 0
    for edge in netshop.sync_edges:
        for method, path, allowed in expected_requests(netshop, edge):
            got = istio_allows(objs, ns, edge.caller, edge.callee, method, path)
            if (method, path) in _bearer_only(netshop):
                allowed = False  # no token in these probes: the gateway's L7 rule refuses them
            assert got == allowed, f"{edge.id}: {method} {path} allowed={got}, model says {allowed}"
            checked += 1
        # a caller the model does not declare gets nothing
        stranger = next(s.name for s in netshop.services if s.name not in netshop.callers_of(edge.callee))
        for method, path, _ in expected_requests(netshop, edge):
            assert not istio_allows(objs, ns, stranger, edge.callee, method, path)
    assert checked > len(netshop.sync_edges)


def _bearer_only(model) -> set[tuple[str, str]]:
    gw, proxy = gateway_of(model)
    if gw is None:
        return set()
    prefix = proxy.path[: proxy.path.index("{")].rstrip("/")
    return {
        (r.method, prefix + sample(r.path))
        for e in model.sync_edges if e.caller == gw.name
        for r in model.routes_of_edge(e) if r.public and r.auth
    }


def test_istio_gateway_requires_a_bearer_token_on_protected_public_routes(netshop):
    objs = bundle("istio")
    gw, _ = gateway_of(netshop)
    protected = _bearer_only(netshop)
    assert protected
    deny = [p for p in by_kind(objs, "AuthorizationPolicy") if p["spec"].get("action") == "DENY"]
    assert [p["spec"]["selector"]["matchLabels"][NAME] for p in deny] == [gw.name]
    for method, path in protected:
        assert _ops_match(deny[0]["spec"]["rules"][0]["to"], method, path), (method, path)
    callers = netshop.callers_of(gw.name)
    public_open = [
        (r.method, path)
        for e in netshop.sync_edges if e.caller == gw.name
        for r in netshop.routes_of_edge(e) if r.public and not r.auth
        for path in [_bearer_prefix(netshop) + sample(r.path)]
    ]
    assert public_open
    for method, path in public_open:
        assert not _ops_match(deny[0]["spec"]["rules"][0]["to"], method, path)
        assert all(istio_allows(objs, netshop.platform.namespace, c, gw.name, method, path) for c in callers)


def _bearer_prefix(model) -> str:
    _, proxy = gateway_of(model)
    return proxy.path[: proxy.path.index("{")].rstrip("/")


def test_istio_path_templates_follow_the_router():
    assert istio_path_matches("/payments/{*}/void", "/payments/p1/void")
    assert not istio_path_matches("/payments/{*}/void", "/payments/p1/x/void")
    assert istio_path_matches("/api/{**}", "/api/orders/o1")
    assert not istio_path_matches("/orders/{*}", "/orders")


# --------------------------------------------------------------------------- Cilium


def cilium_l7(objs: list[dict], caller: str, callee: str) -> list[dict]:
    rules = []
    for pol in by_kind(objs, "CiliumNetworkPolicy"):
        spec = pol["spec"]
        if spec["endpointSelector"]["matchLabels"][NAME] != callee:
            continue
        for ing in spec.get("ingress", []):
            if any(f["matchLabels"][NAME] == caller for f in ing["fromEndpoints"]):
                rules += [r for tp in ing["toPorts"] for r in tp["rules"]["http"]]
    return rules


def test_cilium_l7_allow_lists_match_exactly_the_granted_routes(netshop):
    objs = bundle("cilium")
    for edge in netshop.sync_edges:
        rules = cilium_l7(objs, edge.caller, edge.callee)
        assert rules, edge.id
        for method, path, allowed in expected_requests(netshop, edge):
            for request in (path, path + "?page=2"):
                got = any(re.fullmatch(r.get("method", ".*"), method) and re.fullmatch(r["path"], request) for r in rules)
                assert got == allowed, f"{edge.id}: {method} {request} allowed={got}, model says {allowed}"


def test_cilium_l7_policies_cover_every_sync_edge_and_nothing_else(netshop):
    objs = bundle("cilium")
    pairs = set()
    for pol in by_kind(objs, "CiliumNetworkPolicy"):
        for ing in pol["spec"].get("ingress", []):
            for f in ing["fromEndpoints"]:
                pairs.add((f["matchLabels"][NAME], pol["spec"]["endpointSelector"]["matchLabels"][NAME]))
    assert pairs == {(e.caller, e.callee) for e in netshop.sync_edges}


def test_cilium_dns_egress_names_exactly_what_each_workload_resolves(netshop):
    objs = bundle("cilium")
    ns = netshop.platform.namespace
    tel = netshop.platform.telemetry
    dns = {}
    for pol in by_kind(objs, "CiliumNetworkPolicy"):
        for eg in pol["spec"].get("egress", []):
            for tp in eg.get("toPorts", []):
                if "dns" in tp.get("rules", {}):
                    dns[pol["spec"]["endpointSelector"]["matchLabels"][NAME]] = {r["matchName"] for r in tp["rules"]["dns"]}
    assert set(dns) == set(netshop.workload_names)
    for svc in netshop.services:
        needed = {f"{p}.{ns}.svc.cluster.local" for p in netshop.peers_of(svc.name)}
        needed |= {f"{d.name}.{ns}.svc.cluster.local" for d in netshop.datastores_of(svc.name)}
        needed.add(f"{tel.collector_service}.{tel.collector_namespace}.svc.cluster.local")
        assert needed <= dns[svc.name], svc.name
        strangers = {s.name for s in netshop.services} - set(netshop.peers_of(svc.name)) - {svc.name}
        assert not any(n.startswith(f"{s}.") for s in strangers for n in dns[svc.name]), svc.name


# --------------------------------------------------------------------------- Gateway API


def test_gateway_serves_https_redirects_http_and_splits_web_for_a_canary(netshop):
    objs = bundle("gateway-api")
    ing = netshop.platform.ingress
    web = netshop.service_by_name[ing.service]
    (gw,) = by_kind(objs, "Gateway")
    listeners = {lst["protocol"]: lst for lst in gw["spec"]["listeners"]}
    assert listeners["HTTPS"]["hostname"] == ing.host
    assert listeners["HTTPS"]["tls"]["certificateRefs"] == [{"kind": "Secret", "name": ing.tls_secret}]
    routes = {r["metadata"]["name"]: r["spec"] for r in by_kind(objs, "HTTPRoute")}
    redirect = next(r for r in routes.values() if r["parentRefs"][0]["sectionName"] == listeners["HTTP"]["name"])
    assert redirect["rules"][0]["filters"][0]["requestRedirect"]["scheme"] == "https"
    split = next(r for r in routes.values() if r["parentRefs"][0]["sectionName"] == listeners["HTTPS"]["name"])
    backends = split["rules"][0]["backendRefs"]
    assert sum(b["weight"] for b in backends) == 100 and len(backends) == 2
    assert all(b["port"] == web.port for b in backends)
    services = {o["metadata"]["name"] for o in objs if o["kind"] == "Service"}
    services |= {o["metadata"]["name"] for o in documents(REPO / "generated" / "k8s" / "netshop.yaml") if o["kind"] == "Service"}
    assert {b["name"] for b in backends} <= services and web.name in {b["name"] for b in backends}


# --------------------------------------------------------------------------- model changes


def test_adding_a_service_adds_its_server_and_authorisation_policies(model_data):
    model = build(with_new_service(model_data))
    files = render(model, only=["service-mesh"])
    linkerd, istio = bundle("linkerd", files), bundle("istio", files)
    assert "wishlist" in {o["spec"]["podSelector"]["matchLabels"][NAME] for o in by_kind(linkerd, "Server")}
    names = {o["metadata"]["name"] for o in by_kind(linkerd, "AuthorizationPolicy")}
    assert {"allow-api-gateway-to-wishlist", "allow-wishlist-to-products", "allow-wishlist-to-redis"} <= names
    inside, _ = linkerd_pairs(linkerd, model.platform.namespace)
    assert inside == model_pairs(model)
    assert istio_pairs(istio, model.platform.namespace) == model_pairs(model)
    assert cilium_l7(bundle("cilium", files), "api-gateway", "wishlist")
