"""Zero-trust NetworkPolicies: default deny, DNS to kube-dns only, and exactly the model's edges.

One edge, two policies (cdk8s-plus `allowTo`): an egress allow on the caller and an ingress
allow on the callee, on the callee's port, named `allow-<caller>-to-<callee>-egress|-ingress`.
"""

from __future__ import annotations

from collections.abc import Iterator

from model.schema import IngressSource, NetShopModel

from .base import Artifact, k8s, yaml_stream
from .k8s import platform_labels, selector

ROOTS = ("k8s/networkpolicies.yaml",)
API = "networking.k8s.io/v1"
NS_KEY = "kubernetes.io/metadata.name"


def _policy(model: NetShopModel, name: str, pod: dict, types: list[str], **rules) -> dict:
    return k8s(
        API, "NetworkPolicy", name, model.platform.namespace,
        labels={**platform_labels(model), "netshop.io/policy": "zero-trust"},
        spec={"podSelector": pod, "policyTypes": types, **rules},
    )


def ingress_peers(src: IngressSource) -> list[dict]:
    """NetworkPolicy peers for the ingress controller pods or the load balancer's ranges."""
    if src.namespace:
        return [{"namespaceSelector": {"matchLabels": {NS_KEY: src.namespace}}, "podSelector": {"matchLabels": dict(src.labels)}}]
    return [{"ipBlock": {"cidr": c}} for c in src.cidrs]


def ingress_policy(model: NetShopModel, src: IngressSource) -> dict:
    web = model.service_by_name[model.platform.ingress.service]
    return _policy(
        model, f"allow-ingress-controller-to-{web.name}-ingress", {"matchLabels": selector(model, web.name)}, ["Ingress"],
        ingress=[{"from": ingress_peers(src), "ports": [{"protocol": "TCP", "port": web.port}]}],
    )


def policies(model: NetShopModel) -> list[dict]:
    dns = model.platform.dns
    out = [
        _policy(model, "default-deny", {}, ["Ingress", "Egress"]),
        _policy(
            model, "allow-dns-egress", {}, ["Egress"],
            egress=[
                {
                    "to": [{"namespaceSelector": {"matchLabels": {NS_KEY: dns.namespace}}, "podSelector": {"matchLabels": dict(dns.labels)}}],
                    "ports": [{"protocol": "UDP", "port": dns.port}, {"protocol": "TCP", "port": dns.port}],
                }
            ],
        ),
        ingress_policy(model, model.platform.ingress.source),
    ]
    for edge in model.edges:
        src, dst = selector(model, edge.source), selector(model, edge.target)
        port = [{"protocol": "TCP", "port": edge.port}]
        base = f"allow-{edge.source}-to-{edge.target}"
        out.append(_policy(model, f"{base}-egress", {"matchLabels": src}, ["Egress"], egress=[{"to": [{"podSelector": {"matchLabels": dst}}], "ports": port}]))
        out.append(_policy(model, f"{base}-ingress", {"matchLabels": dst}, ["Ingress"], ingress=[{"from": [{"podSelector": {"matchLabels": src}}], "ports": port}]))
    tel = model.platform.telemetry
    workloads = {"matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In", "values": sorted({s.tier for s in model.services})}]}
    out.append(
        _policy(
            model, "allow-otlp-to-collector-egress", workloads, ["Egress"],
            egress=[
                {
                    "to": [{"namespaceSelector": {"matchLabels": {NS_KEY: tel.collector_namespace}}, "podSelector": {"matchLabels": dict(tel.collector_labels)}}],
                    "ports": [{"protocol": "TCP", "port": tel.otlp_grpc_port}, {"protocol": "TCP", "port": tel.otlp_http_port}],
                }
            ],
        )
    )
    for svc in model.services:
        out.append(
            _policy(
                model, f"allow-prometheus-to-{svc.name}-ingress", {"matchLabels": selector(model, svc.name)}, ["Ingress"],
                ingress=[
                    {
                        "from": [{"namespaceSelector": {"matchLabels": {NS_KEY: tel.scraper_namespace}}, "podSelector": {"matchLabels": dict(tel.scraper_labels)}}],
                        "ports": [{"protocol": "TCP", "port": svc.port}],
                    }
                ],
            )
        )
    api = model.platform.kubernetes_api
    for svc in model.services:
        if svc.kube_access:
            out.append(
                _policy(
                    model, f"allow-{svc.name}-to-kubernetes-api-egress", {"matchLabels": selector(model, svc.name)}, ["Egress"],
                    egress=[{"to": [{"ipBlock": {"cidr": api.cidr}}], "ports": [{"protocol": "TCP", "port": p} for p in api.ports]}],
                )
            )
    return out


def generate(model: NetShopModel) -> Iterator[Artifact]:
    yield Artifact("k8s/networkpolicies.yaml", yaml_stream(policies(model), __name__))
