"""Service mesh bundles: Linkerd, Istio, the Gateway API and Cilium, each a kustomize Component.

Every bundle is a view of the model's edges. Linkerd and Istio authorise exactly the model's
caller -> callee pairs by workload identity (the caller's ServiceAccount); Istio and Cilium also
narrow each edge to the callee routes it grants (`model.routes_of_edge`). An overlay adds a bundle
with `components: [<path>/generated/service-mesh/<mesh>]` on top of the platform's base.

Path placeholders follow the services' router: `{name}` matches one path segment; the trailing
placeholder of an `ANY` route (a pass-through proxy such as `ANY /api/{path}`) matches the rest
of the path, however many segments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from model.schema import NetShopModel, Route, Service

from .base import Artifact, k8s, to_yaml, yaml_file, yaml_stream
from .k8s import k8s_service, labels, platform_labels, selector

ROOTS = ("service-mesh/",)

LINKERD = "policy.linkerd.io"
ISTIO_SECURITY = "security.istio.io/v1"
GATEWAY = "gateway.networking.k8s.io/v1"
CILIUM = "cilium.io/v2"
TRUST_DOMAIN = "cluster.local"
CANARY_WEIGHT = 10  # percent of web traffic the canary backend takes while a rollout runs
SEARCH_DOMAINS = ("{ns}.svc.cluster.local", "svc.cluster.local", "cluster.local")
KUSTOMIZE = "kustomize.config.k8s.io/v1alpha1"

_PLACEHOLDER = re.compile(r"\{([^}/]+)\}")


# --------------------------------------------------------------------------- routes as path patterns


def segments(route: Route) -> list[tuple[str, str]]:
    """A route path as ("lit", text) / ("one", name) / ("rest", name) parts; see the module docstring."""
    parts: list[tuple[str, str]] = []
    pos = 0
    matches = list(_PLACEHOLDER.finditer(route.path))
    for i, m in enumerate(matches):
        if m.start() > pos:
            parts.append(("lit", route.path[pos : m.start()]))
        last = i == len(matches) - 1 and m.end() == len(route.path)
        parts.append(("rest" if last and route.method == "ANY" else "one", m.group(1)))
        pos = m.end()
    if pos < len(route.path):
        parts.append(("lit", route.path[pos:]))
    return parts


def istio_path(route: Route, prefix: str = "") -> str:
    """Istio (Envoy URI template) path: `{*}` for one segment, `{**}` for the rest of the path."""
    body = "".join(text if kind == "lit" else "{*}" if kind == "one" else "{**}" for kind, text in segments(route))
    return prefix + body


def cilium_path(route: Route, prefix: str = "") -> str:
    """Cilium path regex (RE2, matched against the whole `:path`, so an optional query string is allowed)."""
    body = "".join(
        re.escape(text) if kind == "lit" else "[^/?]+" if kind == "one" else "[^?]*" for kind, text in segments(route)
    )
    return re.escape(prefix) + body + r"(\?.*)?"


def proxy_route(svc: Service) -> Route | None:
    """The service's pass-through route (`ANY` with a trailing rest placeholder), if it has one."""
    for route in svc.routes:
        parts = segments(route)
        if parts and parts[-1][0] == "rest":
            return route
    return None


def gateway_surface(model: NetShopModel, svc: Service) -> list[tuple[str, Route]]:
    """For a public API gateway: (path prefix, callee route) of every public route it forwards.

    A service is the gateway when it has a proxy route and grants callers' `public` routes; the
    prefix is the proxy route's literal part (`/api` for `ANY /api/{path}`).
    """
    proxy = proxy_route(svc)
    edges = [e for e in model.sync_edges if e.caller == svc.name and "public" in e.routes]
    if proxy is None or not edges:
        return []
    prefix = "".join(text for kind, text in segments(proxy) if kind == "lit").rstrip("/")
    surface = {
        (r.method, r.path): r for e in edges for r in model.routes_of_edge(e) if r.public
    }
    return [(prefix, surface[k]) for k in sorted(surface)]


# --------------------------------------------------------------------------- kustomize glue


def _component(resources: list[str], patches: list[dict]) -> dict:
    body: dict = {"apiVersion": KUSTOMIZE, "kind": "Component", "resources": resources}
    if patches:
        body["patches"] = patches
    return body


def _namespace_patch(model: NetShopModel, *, labels: dict | None = None, annotations: dict | None = None) -> dict:
    meta: dict = {"name": model.platform.namespace}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _bundle(model: NetShopModel, name: str, objects: list[dict], note: str, patches: list[dict] | None = None) -> Iterator[Artifact]:
    base = f"service-mesh/{name}"
    yield Artifact(f"{base}/{name}.yaml", yaml_stream(objects, __name__))
    text = yaml_file(_component([f"{name}.yaml"], patches or []), __name__)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in note.strip().splitlines())
    yield Artifact(f"{base}/kustomization.yaml", text.replace("\n", "\n" + comment, 1))


# --------------------------------------------------------------------------- Linkerd


def linkerd_identity(model: NetShopModel, sa: str, namespace: str | None = None) -> str:
    return f"{sa}.{namespace or model.platform.namespace}.serviceaccount.identity.linkerd.{TRUST_DOMAIN}"


def _linkerd_authz(model: NetShopModel, name: str, server: str, authn_kind: str, authn: str) -> dict:
    return k8s(
        f"{LINKERD}/v1alpha1", "AuthorizationPolicy", name, model.platform.namespace, labels=platform_labels(model),
        spec={
            "targetRef": {"group": LINKERD, "kind": "Server", "name": server},
            "requiredAuthenticationRefs": [{"group": LINKERD, "kind": authn_kind, "name": authn}],
        },
    )


def linkerd(model: NetShopModel) -> list[dict]:
    """A Server per workload port, a MeshTLSAuthentication per calling identity, an AuthorizationPolicy per edge."""
    ns = model.platform.namespace
    out: list[dict] = []
    for svc in model.services:
        out.append(
            k8s(
                f"{LINKERD}/v1beta3", "Server", svc.name, ns, labels=labels(model, svc.name, svc.tier),
                spec={"podSelector": {"matchLabels": selector(model, svc.name)}, "port": "http", "proxyProtocol": "HTTP/1"},
            )
        )
    for ds in model.datastores:
        out.append(
            k8s(
                f"{LINKERD}/v1beta3", "Server", ds.name, ns, labels=labels(model, ds.name, "data"),
                spec={"podSelector": {"matchLabels": selector(model, ds.name)}, "port": "tcp", "proxyProtocol": "opaque"},
            )
        )
    callers = sorted({e.source for e in model.edges})
    for caller in callers:
        out.append(
            k8s(
                f"{LINKERD}/v1alpha1", "MeshTLSAuthentication", f"{caller}-identity", ns, labels=platform_labels(model),
                spec={"identities": [linkerd_identity(model, caller)]},
            )
        )
    for edge in model.edges:
        out.append(_linkerd_authz(model, f"allow-{edge.source}-to-{edge.target}", edge.target, "MeshTLSAuthentication", f"{edge.source}-identity"))

    web = model.platform.ingress.service
    src = model.platform.ingress.source
    if src.namespace:
        out.append(
            k8s(
                f"{LINKERD}/v1alpha1", "MeshTLSAuthentication", "ingress-controller", ns, labels=platform_labels(model),
                spec={"identities": [linkerd_identity(model, "*", src.namespace)]},
            )
        )
        out.append(_linkerd_authz(model, f"allow-ingress-controller-to-{web}", web, "MeshTLSAuthentication", "ingress-controller"))
    else:
        out.append(
            k8s(
                f"{LINKERD}/v1alpha1", "NetworkAuthentication", "ingress-controller", ns, labels=platform_labels(model),
                spec={"networks": [{"cidr": c} for c in src.cidrs]},
            )
        )
        out.append(_linkerd_authz(model, f"allow-ingress-controller-to-{web}", web, "NetworkAuthentication", "ingress-controller"))

    tel = model.platform.telemetry
    out.append(
        k8s(
            f"{LINKERD}/v1alpha1", "MeshTLSAuthentication", "prometheus", ns, labels=platform_labels(model),
            spec={"identities": [linkerd_identity(model, "*", tel.scraper_namespace)]},
        )
    )
    for svc in model.services:
        out.append(_linkerd_authz(model, f"allow-prometheus-to-{svc.name}", svc.name, "MeshTLSAuthentication", "prometheus"))
    return out


LINKERD_NOTE = """
Linkerd bundle: add with `components:` on top of the platform base.
Injects the namespace, denies ports without a Server, and authorises exactly the model's edges
by mTLS identity (plus the ingress controller -> web, and a meshed Prometheus scraping each service).
The namespace enforces the restricted Pod Security Standard, so install Linkerd with its CNI
plugin (linkerd-cni): the proxy-init container needs NET_ADMIN otherwise.
"""


# --------------------------------------------------------------------------- Istio


def istio_principal(namespace: str, sa: str) -> str:
    return f"{TRUST_DOMAIN}/ns/{namespace}/sa/{sa}"


def _operation(method: str, path: str) -> dict:
    op: dict = {}
    if method != "ANY":
        op["methods"] = [method]
    op["paths"] = [path]
    return {"operation": op}


def istio_operations(model: NetShopModel, callee: Service, routes: list[Route]) -> list[dict]:
    """One operation per granted route; a gateway's proxy route becomes its exact public surface."""
    proxy = proxy_route(callee)
    surface = gateway_surface(model, callee)
    ops: list[dict] = []
    for route in routes:
        if surface and proxy is not None and route.ref == proxy.ref:
            ops.extend(_operation(r.method, istio_path(r, prefix)) for prefix, r in surface)
        else:
            ops.append(_operation(route.method, istio_path(route)))
    return ops


def istio(model: NetShopModel) -> list[dict]:
    """STRICT mTLS, allow-nothing, then one ALLOW per callee naming its callers and their routes."""
    ns = model.platform.namespace
    tel = model.platform.telemetry
    pl = platform_labels(model)
    out = [
        k8s(ISTIO_SECURITY, "PeerAuthentication", "default", ns, labels=pl, spec={"mtls": {"mode": "STRICT"}}),
        # An ALLOW policy without rules matches nothing: every workload in the namespace denies by default.
        k8s(ISTIO_SECURITY, "AuthorizationPolicy", "deny-all", ns, labels=pl, spec={}),
    ]
    web = model.platform.ingress.service
    src = model.platform.ingress.source
    for svc in model.services:
        rules = []
        for edge in sorted((e for e in model.sync_edges if e.callee == svc.name), key=lambda e: e.caller):
            rules.append(
                {
                    "from": [{"source": {"principals": [istio_principal(ns, edge.caller)]}}],
                    "to": istio_operations(model, svc, model.routes_of_edge(edge)),
                }
            )
        if svc.name == web:
            source = {"principals": [istio_principal(src.namespace, "*")]} if src.namespace else {"ipBlocks": list(src.cidrs)}
            rules.append({"from": [{"source": source}], "to": [{"operation": {"ports": [str(svc.port)]}}]})
        rules.append(
            {
                "from": [{"source": {"namespaces": [tel.scraper_namespace]}}],
                "to": [{"operation": {"methods": ["GET"], "paths": ["/metrics"]}}],
            }
        )
        out.append(
            k8s(
                ISTIO_SECURITY, "AuthorizationPolicy", f"allow-to-{svc.name}", ns, labels=labels(model, svc.name, svc.tier),
                spec={"selector": {"matchLabels": selector(model, svc.name)}, "action": "ALLOW", "rules": rules},
            )
        )
    for ds in model.datastores:
        clients = model.clients_of(ds.name)
        if not clients:
            continue
        out.append(
            k8s(
                ISTIO_SECURITY, "AuthorizationPolicy", f"allow-to-{ds.name}", ns, labels=labels(model, ds.name, "data"),
                spec={
                    "selector": {"matchLabels": selector(model, ds.name)},
                    "action": "ALLOW",
                    "rules": [
                        {
                            "from": [{"source": {"principals": [istio_principal(ns, c) for c in clients]}}],
                            "to": [{"operation": {"ports": [str(ds.port)]}}],
                        }
                    ],
                },
            )
        )
    out.extend(istio_gateway_rules(model))
    return out


def istio_gateway_rules(model: NetShopModel) -> list[dict]:
    """L7 at the API gateway: a request to a public route that needs a user must carry a bearer token.

    The token itself is verified by the identity service (HS256 with a secret that is never committed);
    the mesh refuses the obviously unauthenticated calls before they reach the gateway's code.
    """
    out = []
    for svc in model.services:
        protected = [(p, r) for p, r in gateway_surface(model, svc) if r.auth]
        if not protected:
            continue
        out.append(
            k8s(
                ISTIO_SECURITY, "AuthorizationPolicy", f"{svc.name}-require-bearer", model.platform.namespace,
                labels=labels(model, svc.name, svc.tier),
                spec={
                    "selector": {"matchLabels": selector(model, svc.name)},
                    "action": "DENY",
                    "rules": [
                        {
                            "to": [_operation(r.method, istio_path(r, p)) for p, r in protected],
                            "when": [{"key": "request.headers[authorization]", "notValues": ["Bearer *"]}],
                        }
                    ],
                },
            )
        )
    return out


ISTIO_NOTE = """
Istio bundle: add with `components:` on top of the platform base.
Labels the namespace for sidecar injection, enforces STRICT mTLS, denies everything, then allows
per callee exactly its callers' service accounts on the routes the model grants them.
Install Istio with its CNI node agent: the restricted Pod Security Standard forbids istio-init.
Prometheus must scrape with Istio certificates (a sidecar in its namespace) under STRICT mTLS.
"""


# --------------------------------------------------------------------------- Gateway API


def gateway_api(model: NetShopModel) -> list[dict]:
    """An HTTPS Gateway for the model's host, an HTTP->HTTPS redirect, and a weighted canary route for web."""
    ing = model.platform.ingress
    ns = model.platform.namespace
    web = model.service_by_name[ing.service]
    lab = labels(model, web.name, web.tier)
    gw = model.platform.name
    canary = k8s_service(model, web.name, web.tier, web.port)
    canary["metadata"]["name"] = f"{web.name}-canary"
    canary["metadata"]["annotations"] = {"netshop.io/rollout": "Argo Rollouts narrows this selector to the canary pods"}
    return [
        k8s(
            GATEWAY, "Gateway", gw, ns, labels=lab,
            spec={
                "gatewayClassName": ing.class_name,
                "listeners": [
                    {
                        "name": "http", "protocol": "HTTP", "port": 80, "hostname": ing.host,
                        "allowedRoutes": {"namespaces": {"from": "Same"}},
                    },
                    {
                        "name": "https", "protocol": "HTTPS", "port": 443, "hostname": ing.host,
                        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": ing.tls_secret}]},
                        "allowedRoutes": {"namespaces": {"from": "Same"}},
                    },
                ],
            },
        ),
        k8s(
            GATEWAY, "HTTPRoute", f"{web.name}-https-redirect", ns, labels=lab,
            spec={
                "parentRefs": [{"name": gw, "sectionName": "http"}],
                "hostnames": [ing.host],
                "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
            },
        ),
        k8s(
            GATEWAY, "HTTPRoute", web.name, ns, labels=lab,
            spec={
                "parentRefs": [{"name": gw, "sectionName": "https"}],
                "hostnames": [ing.host],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": [
                            {"name": web.name, "port": web.port, "weight": 100 - CANARY_WEIGHT},
                            {"name": f"{web.name}-canary", "port": web.port, "weight": CANARY_WEIGHT},
                        ],
                    }
                ],
            },
        ),
        canary,
    ]


GATEWAY_NOTE = """
Gateway API bundle: add with `components:` on top of the platform base.
An HTTPS Gateway for the model's host (TLS from the ingress Secret), an HTTP->HTTPS redirect and a
weighted stable/canary HTTPRoute for the web service (Argo Rollouts moves the weights).
"""


# --------------------------------------------------------------------------- Cilium


def _endpoint(model: NetShopModel, name: str) -> dict:
    return {"matchLabels": selector(model, name)}


def resolved_names(model: NetShopModel, name: str) -> list[str]:
    """Every query the pod's resolver sends for `name` (ndots 5: each search domain first, then as is)."""
    ns = model.platform.namespace
    queries = [f"{name}.{d.format(ns=ns)}" for d in SEARCH_DOMAINS]
    if "." in name:
        queries.append(name)
    return queries


def lookups_of(model: NetShopModel, workload: str) -> list[str]:
    """Host names a workload resolves: its peers, its datastores, the collector, the API server if it reads it."""
    names = {*model.peers_of(workload), *(d.name for d in model.datastores_of(workload))}
    if workload in model.service_by_name:
        tel = model.platform.telemetry
        names.add(f"{tel.collector_service}.{tel.collector_namespace}.svc.{TRUST_DOMAIN}")
        if model.service_by_name[workload].kube_access:
            names.add("kubernetes.default.svc")
    else:
        names.add(workload)
    return sorted({q for n in names for q in resolved_names(model, n)})


def cilium(model: NetShopModel) -> list[dict]:
    """An L7 allow-list per sync edge on the callee, and DNS-aware egress per workload."""
    ns = model.platform.namespace
    dns = model.platform.dns
    out: list[dict] = []
    for edge in sorted(model.sync_edges, key=lambda e: (e.caller, e.callee)):
        callee = model.service_by_name.get(edge.callee)
        if callee is None:
            continue
        http = []
        for route in model.routes_of_edge(edge):
            surface = gateway_surface(model, callee) if route == proxy_route(callee) else []
            for prefix, r in surface or [("", route)]:
                rule: dict = {}
                if r.method != "ANY":
                    rule["method"] = r.method
                rule["path"] = cilium_path(r, prefix)
                http.append(rule)
        out.append(
            k8s(
                CILIUM, "CiliumNetworkPolicy", f"allow-{edge.caller}-to-{edge.callee}-l7", ns, labels=platform_labels(model),
                spec={
                    "description": f"{edge.caller} -> {edge.callee}: {edge.purpose}",
                    "endpointSelector": _endpoint(model, edge.callee),
                    "ingress": [
                        {
                            "fromEndpoints": [_endpoint(model, edge.caller)],
                            "toPorts": [{"ports": [{"port": str(callee.port), "protocol": "TCP"}], "rules": {"http": http}}],
                        }
                    ],
                },
            )
        )
    kube_dns = {"matchLabels": {"io.kubernetes.pod.namespace": dns.namespace, **dns.labels}}
    for name in model.workload_names:
        egress = [
            {
                "toEndpoints": [kube_dns],
                "toPorts": [
                    {
                        "ports": [{"port": str(dns.port), "protocol": "UDP"}, {"port": str(dns.port), "protocol": "TCP"}],
                        "rules": {"dns": [{"matchName": q} for q in lookups_of(model, name)]},
                    }
                ],
            }
        ]
        for ds in model.datastores_of(name):
            # Datastore Services are headless: DNS answers with pod addresses, which toFQDNs learns.
            egress.append(
                {
                    "toFQDNs": [{"matchName": f"{ds.name}.{ns}.svc.{TRUST_DOMAIN}"}],
                    "toPorts": [{"ports": [{"port": str(ds.port), "protocol": "TCP"}]}],
                }
            )
        out.append(
            k8s(
                CILIUM, "CiliumNetworkPolicy", f"{name}-dns-egress", ns, labels=platform_labels(model),
                spec={"description": f"DNS for {name}: only the names it needs", "endpointSelector": _endpoint(model, name), "egress": egress},
            )
        )
    return out


def cilium_replaced_policies(model: NetShopModel) -> list[str]:
    """NetworkPolicies the Cilium bundle removes: an L3/L4 allow on the same peer and port would void its L7 rules."""
    names = ["allow-dns-egress"]
    names += [f"allow-{e.caller}-to-{e.callee}-ingress" for e in model.sync_edges if e.callee in model.service_by_name]
    return sorted(names)


def _delete_patch(model: NetShopModel, name: str) -> dict:
    return {
        "patch": f"$patch: delete\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {model.platform.namespace}\n"
    }


CILIUM_NOTE = """
Cilium bundle: add with `components:` on top of the platform base.
Replaces each sync edge's ingress NetworkPolicy by a CiliumNetworkPolicy that allows only the
methods and paths the model grants, and the namespace-wide DNS allow by per-workload DNS rules
that name exactly the hosts a workload resolves (toFQDNs then follows the headless datastores).
"""


# --------------------------------------------------------------------------- family entry point


def generate(model: NetShopModel) -> Iterator[Artifact]:
    ns_annotations = {"linkerd.io/inject": "enabled", "config.linkerd.io/default-inbound-policy": "deny"}
    yield from _bundle(
        model, "linkerd", linkerd(model), LINKERD_NOTE,
        [{"patch": to_yaml(_namespace_patch(model, annotations=ns_annotations))}],
    )
    yield from _bundle(
        model, "istio", istio(model), ISTIO_NOTE,
        [{"patch": to_yaml(_namespace_patch(model, labels={"istio-injection": "enabled"}))}],
    )
    yield from _bundle(model, "gateway-api", gateway_api(model), GATEWAY_NOTE)
    yield from _bundle(
        model, "cilium", cilium(model), CILIUM_NOTE, [_delete_patch(model, n) for n in cilium_replaced_policies(model)]
    )
