"""Kubernetes-mechanics views: zero trust, zones, discovery, autoscaling, storage, governance, clouds, defence in depth."""

from __future__ import annotations

from diagrams.aws.compute import EKS
from diagrams.azure.compute import AKS
from diagrams.digitalocean.compute import K8SCluster
from diagrams.gcp.compute import GKE
from diagrams.k8s.clusterconfig import HPA, LimitRange, Quota
from diagrams.k8s.compute import Deploy, Pod, StatefulSet
from diagrams.k8s.controlplane import API
from diagrams.k8s.group import NS
from diagrams.k8s.infra import Node as K8sNode
from diagrams.k8s.network import SVC, Ep, Ing, NetworkPolicy
from diagrams.k8s.podconfig import Secret
from diagrams.k8s.rbac import SA, ClusterRole, Role
from diagrams.k8s.storage import PV, PVC, SC
from diagrams.onprem.client import Users
from diagrams.onprem.dns import Coredns
from diagrams.onprem.iac import Terraform
from diagrams.onprem.monitoring import Prometheus
from diagrams.onprem.security import Trivy

from model.schema import NetShopModel

from .diagrams_kit import (
    ALLOW,
    CONTROL,
    DATA,
    DENY,
    MUTED,
    SYNC,
    TIER_FILL,
    Canvas,
    Plain,
    View,
    capability,
    place_by_tier,
    tier_of,
    tier_title,
    workload,
    wrap,
)
from .k8s import APP_UID, CONTAINER_SECURITY, objects, quantity, quota_figures
from .networkpolicies import policies

NAME = "app.kubernetes.io/name"
CLOUD_ICON = {"gke": GKE, "eks": EKS, "aks": AKS, "doks": K8SCluster, "kind": K8sNode}


def per_zone(replicas: int, zones: int) -> list[int]:
    """How an even zone spread places `replicas` pods over `zones` zones."""
    return [replicas // zones + (1 if i < replicas % zones else 0) for i in range(zones)]


# --------------------------------------------------------------------------- zero trust


def allowed_pairs(m: NetShopModel) -> dict[tuple[str, str], int]:
    """(source, target) -> port for every edge that has both its egress and its ingress NetworkPolicy."""
    egress, ingress = {}, {}
    for p in policies(m):
        spec = p["spec"]
        pod = spec["podSelector"].get("matchLabels", {}).get(NAME)
        for rule in spec.get("egress", []):
            for peer in rule["to"]:
                if pod and "podSelector" in peer and "namespaceSelector" not in peer:
                    egress[(pod, peer["podSelector"]["matchLabels"][NAME])] = rule["ports"][0]["port"]
        for rule in spec.get("ingress", []):
            for peer in rule["from"]:
                if pod and "podSelector" in peer and "namespaceSelector" not in peer:
                    ingress[(peer["podSelector"]["matchLabels"][NAME], pod)] = rule["ports"][0]["port"]
    return {k: v for k, v in sorted(egress.items()) if ingress.get(k) == v}


def zero_trust(m: NetShopModel) -> View:
    pols = policies(m)
    cv = Canvas(m, "Zero-trust NetworkPolicies: default deny, then exactly the model's edges", direction="TB")
    tel, dns = m.platform.telemetry, m.platform.dns
    pairs = allowed_pairs(m)
    deny = f"namespace {m.platform.namespace}: default-deny (every pod, ingress and egress)"
    with cv:
        with cv.group(deny, fill="#FDF2F2", pencolor=DENY, style="rounded,bold"):
            cv.node("x.default-deny", NetworkPolicy, "default-deny\npodSelector {}")
            place_by_tier(cv, m.workload_names)
        src = m.platform.ingress.source
        ctl = cv.node("x.ingress-controller", Users, "ingress controller\n" + (f"ns {src.namespace}" if src.namespace else ", ".join(src.cidrs)))
        kdns = cv.node("x.kube-dns", Coredns, f"kube-dns ({dns.namespace})\nUDP+TCP {dns.port}")
        collector = cv.node("x.collector", Plain,
                            f"{tel.collector_service} ({tel.collector_namespace})\nOTLP {tel.otlp_grpc_port}/{tel.otlp_http_port}")
        prom = cv.node("x.prometheus", Prometheus, f"Prometheus ({tel.scraper_namespace})")
        web = m.service_by_name[m.platform.ingress.service]
        cv.link(ctl, workload(cv, web.name), f"allow :{web.port}", color=ALLOW)
        anchor = workload(cv, m.workload_names[0])
        cv.link(anchor, kdns, "allow-dns-egress (every pod)", color=ALLOW, style="dashed", ltail=f"cluster_{deny}")
        for (a, b), port in pairs.items():
            kind = SYNC if b in m.service_by_name else DATA
            cv.link(workload(cv, a), workload(cv, b), f":{port}", color=kind, model_id=f"{a}->{b}")
        cv.link(anchor, collector, "allow-otlp-to-collector-egress\n(every service)", color=CONTROL, style="dotted", ltail=f"cluster_{deny}")
        cv.link(prom, anchor, "allow-prometheus-to-<service>-ingress\n(one per service, its port)", color=CONTROL, style="dotted",
                lhead=f"cluster_{deny}")
        readers = [s for s in m.services if s.kube_access]
        if readers:
            kapi = m.platform.kubernetes_api
            api = cv.node("x.kube-api", API, f"Kubernetes API\n{kapi.cidr} :{'/'.join(map(str, kapi.ports))}")
            for s in readers:
                cv.link(workload(cv, s.name), api, "allow egress", color=CONTROL, style="dashed")
    allows = sum(1 for p in pols if p["metadata"]["name"].startswith("allow-"))
    caption = (f"{len(pols)} NetworkPolicies: one default deny, then {allows} allows — DNS, the ingress controller, telemetry, "
               f"the Kubernetes API for {len(readers)} reader(s), and an egress plus an ingress policy for each of the "
               f"{len(pairs)} model edges, on the callee's port. Anything not drawn is denied.")
    return cv.view("zero-trust-policies", caption, "capability", "zero-trust")


# --------------------------------------------------------------------------- zones and discovery


def zones(m: NetShopModel) -> View:
    zs = m.platform.zones
    cv = Canvas(m, f"Multi-zone topology: {len(zs)} zones, every HA tier in each", direction="TB")
    with cv:
        ing = cv.node("x.ingress", Ing, f"Ingress {m.platform.ingress.host}")
        for zi, z in enumerate(zs):
            with cv.group(f"{z.title} ({z.name})", fill="#F4F6F6"):
                cv.node(f"zone.{z.name}.nodes", K8sNode, "worker nodes", model_id=z.name)
                for tier in m.platform.tiers:
                    if tier.name == "data":
                        continue
                    pods = [f"{s.name} ×{per_zone(s.scaling.min, len(zs))[zi]}" for s in m.services
                            if s.tier == tier.name and per_zone(s.scaling.min, len(zs))[zi]]
                    if pods:
                        cv.node(f"zone.{z.name}.{tier.name}", Plain, f"{tier.title}\n" + "\n".join(pods),
                                fillcolor=TIER_FILL.get(tier.name, "white"))
        with cv.group("Data tier: one replica each; the pod follows its zonal volume", fill=TIER_FILL["data"]):
            for d in m.datastores:
                workload(cv, d.name)
        top = tier_of(m, m.platform.ingress.service)
        for z in zs:
            cv.link(ing, cv.nodes[f"zone.{z.name}.{top}"], "load-balanced", color=SYNC)
            column = [cv.nodes[f"zone.{z.name}.{t.name}"] for t in m.platform.tiers if f"zone.{z.name}.{t.name}" in cv.nodes]
            for a, b in zip(column, [*column[1:], cv.nodes[f"zone.{z.name}.nodes"]]):
                cv.link(a, b, style="invis")
    skews = sorted({f"maxSkew {s.zone_spread.max_skew} {s.zone_spread.when_unsatisfiable}" for s in m.services})
    ha = [t.title for t in m.platform.tiers if t.ha]
    caption = (f"Replicas at rest spread evenly over {', '.join(z.name for z in zs)} by topology spread constraints "
               f"({'; '.join(skews)}) and hostname anti-affinity. HA tiers ({', '.join(ha)}) keep a replica in every zone, "
               f"so losing a zone removes only part of the capacity.")
    return cv.view("multi-zone-topology", caption, "platform")


def service_discovery(m: NetShopModel) -> View:
    ns = m.platform.namespace
    cv = Canvas(m, "Service discovery: DNS names, ClusterIPs and endpoints", direction="TB", ranksep="1.0",
                nodesep="0.35")
    dns = m.platform.dns
    zs = [z.name for z in m.platform.zones]
    with cv:
        client = cv.node("x.client", Pod, "any pod\n(resolv.conf search\n<ns>.svc.cluster.local)")
        coredns = cv.node("x.kube-dns", Coredns, f"CoreDNS\n{dns.namespace} :{dns.port}")
        cv.link(client, coredns, "A? <service>", color=CONTROL)
        for tier in m.platform.tiers:
            names = [n for n in m.workload_names if tier_of(m, n) == tier.name]
            if not names:
                continue
            with cv.group(tier_title(m, tier.name), fill=TIER_FILL.get(tier.name, "white")):
                for n in names:
                    svc = m.service_by_name.get(n)
                    kind = "ClusterIP" if svc else "headless"
                    s = cv.node(f"svc.{n}", SVC, f"{n}\n.{ns}.svc:{m.port_of(n)}\n{kind}", model_id=n)
                    spread = per_zone(svc.scaling.min, len(zs)) if svc else [1]
                    where = "\n".join(f"{z} ×{k}" for z, k in zip(zs, spread) if k) if svc else "one pod"
                    e = cv.node(f"endpoints.{n}", Ep, f"endpoints\n{where}")
                    cv.link(s, e, color=SYNC)
        for n in m.workload_names:
            cv.link(coredns, cv.nodes[f"svc.{n}"], color=MUTED, style="dashed")
    caption = (f"A service knows its peers only by name: CoreDNS answers `<name>.{ns}.svc.cluster.local` with a stable ClusterIP, "
               f"and kube-proxy spreads each connection over the ready endpoints, which sit in different zones. "
               f"Datastores are headless: the name resolves to the pod.")
    return cv.view("service-discovery", caption, "platform")


# --------------------------------------------------------------------------- scaling and storage


def autoscaling(m: NetShopModel) -> View:
    cv = Canvas(m, "Horizontal pod autoscaling from the model's scaling targets", direction="TB", ranksep="0.9")
    with cv:
        ms = cv.node("x.metrics-server", Plain, "metrics-server\n(resource metrics API)")
        for tier in m.platform.tiers:
            svcs = [s for s in m.services if s.tier == tier.name]
            if not svcs:
                continue
            with cv.group(tier_title(m, tier.name), fill=TIER_FILL.get(tier.name, "white")):
                for s in svcs:
                    sc = s.scaling
                    target = f"cpu {sc.cpu_utilization}%" + (f", mem {sc.memory_utilization}%" if sc.memory_utilization else "")
                    h = cv.node(f"hpa.{s.name}", HPA, f"HPA {s.name}\n{sc.min}–{sc.max} pods, {target}", model_id=s.name)
                    d = cv.node(f"deploy.{s.name}", Deploy, f"{s.name}\nPDB maxUnavailable 1" if sc.min > 1 else s.name)
                    cv.link(h, d, f"up {sc.scale_up_window_seconds}s / down {sc.scale_down_window_seconds}s", color=SYNC)
                    cv.link(ms, h, color=MUTED, style="dotted")
    lo = sum(s.scaling.min for s in m.services)
    hi = sum(s.scaling.max for s in m.services)
    caption = (f"Every service has an autoscaling/v2 HPA: {lo} pods at rest, up to {hi} at peak. Scale-up reacts within its "
               f"short window; scale-down waits out its long one to avoid flapping.")
    return cv.view("autoscaling", caption, "platform")


def storage(m: NetShopModel) -> View:
    cv = Canvas(m, "Persistent storage: claims, classes and zonal disks per cloud", direction="LR")
    with cv:
        with cv.group("StorageClass per cloud (zonal disks, WaitForFirstConsumer)", fill="#F4F6F6"):
            for c in m.clouds:
                cv.node(f"sc.{c.name}", SC, f"{c.name}: {c.storage_class}", model_id=c.name)
        for d in m.datastores:
            with cv.group(f"{d.name} ({d.kind})", fill=TIER_FILL["data"]):
                sts = cv.node(f"sts.{d.name}", StatefulSet, f"StatefulSet {d.name}\n1 replica, uid {d.run_as_user}", model_id=d.name)
                pvc = cv.node(f"pvc.{d.name}", PVC, f"PVC data-{d.name}-0\n{d.storage} RWO")
                pv = cv.node(f"pv.{d.name}", PV, "PV: a disk in\nthe pod's zone")
            cv.link(sts, pvc, "volumeClaimTemplate", color=DATA)
            cv.link(pvc, pv, "bound", color=DATA)
            for c in m.clouds:
                cv.link(pv, cv.nodes[f"sc.{c.name}"], color=MUTED, style="dashed")
    total = sum(quantity(d.storage) for d in m.datastores) / 2**30
    caption = (f"{len(m.datastores)} datastores claim {total:g} Gi in all; each cloud overlay names its StorageClass, "
               f"and the volume stays in the zone where its pod first ran.")
    return cv.view("storage", caption, "platform")


# --------------------------------------------------------------------------- governance


def governance(m: NetShopModel) -> View:
    objs = objects(m)
    by_kind: dict[str, list[dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    ns = by_kind["Namespace"][0]
    psa = ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce", "?")
    lr = by_kind["LimitRange"][0]["spec"]["limits"][0]
    cv = Canvas(m, f"Namespace governance: {m.platform.namespace}", direction="LR")
    with cv:
        n = cv.node("x.namespace", NS, f"Namespace {m.platform.namespace}\nPod Security: {psa}")
        q = cv.node("x.quota", Quota, "ResourceQuota\n" + "\n".join(f"{k}: {v}" for k, v in quota_figures(m).items()))
        lim = cv.node("x.limits", LimitRange, f"LimitRange\ndefault {lr['default']['cpu']} / {lr['default']['memory']}\n"
                      f"max {lr['max']['cpu']} / {lr['max']['memory']}")
        cv.link(n, q, color=CONTROL)
        cv.link(n, lim, color=CONTROL)
        secrets = {m.platform.jwt_secret: [s.name for s in m.services if "jwt" in s.secrets],
                   m.platform.datastore_secret: [d.name for d in m.datastores] + sorted({e.service for e in m.all_data_edges})}
        sa_of: dict[str, str] = {}  # workload -> the node that shows its ServiceAccount
        for tier in m.platform.tiers:
            names = [x for x in m.workload_names if tier_of(m, x) == tier.name]
            if not names:
                continue
            readers = [x for x in names if x in m.service_by_name and m.service_by_name[x].kube_access]
            plain = [x for x in names if x not in readers]
            with cv.group(f"ServiceAccounts: {tier_title(m, tier.name)}", fill=TIER_FILL.get(tier.name, "white")):
                for x in readers:
                    sa_of[x] = f"sa.{x}"
                    cv.node(sa_of[x], SA, f"{x}\nAPI token mounted", model_id=x)
                if plain:
                    cv.node(f"sa.tier.{tier.name}", SA, wrap(", ".join(plain), 32) + "\nno API token")
                    for x in plain:
                        sa_of[x] = f"sa.tier.{tier.name}"
                        cv.record(x)
        for nid in dict.fromkeys(sa_of.values()):
            cv.link(n, cv.nodes[nid], color=MUTED, style="dotted")
        for o in by_kind.get("Role", []) + by_kind.get("ClusterRole", []):
            icon = Role if o["kind"] == "Role" else ClusterRole
            rules = "\n".join(wrap(f"{'/'.join(r['verbs'])} {', '.join(r['resources'])}", 34) for r in o["rules"])
            r = cv.node(f"role.{o['metadata']['name']}", icon, f"{o['kind']} {o['metadata']['name']}\n{rules}")
            for b in by_kind.get(f"{o['kind']}Binding", []):
                if b["roleRef"]["name"] == o["metadata"]["name"]:
                    for subj in b["subjects"]:
                        cv.link(cv.nodes[sa_of[subj["name"]]], r, f"{o['kind']}Binding", color=ALLOW)
        for name, users in secrets.items():
            if users:
                s = cv.node(f"secret.{name}", Secret, f"Secret {name}\n(never committed)")
                for nid in dict.fromkeys(sa_of[u] for u in users):
                    cv.link(s, cv.nodes[nid], color=DENY, style="dashed")
    caption = ("Restricted Pod Security on the namespace, a quota sized for every workload at its maximum plus headroom, "
               "default limits, one ServiceAccount per workload, and RBAC only where the model grants Kubernetes API access.")
    return cv.view("namespace-governance", caption, "platform")


# --------------------------------------------------------------------------- clouds and defence in depth


def multi_cloud(m: NetShopModel) -> View:
    cv = Canvas(m, "Multi-cloud infrastructure: one regional multi-zone cluster per cloud", direction="LR")
    with cv:
        tf = cv.node("x.terraform", Terraform, "Terraform + kustomize overlays\n(from the model)")
        for c in m.clouds:
            with cv.group(f"{c.title} — {c.region}", fill="#F4F6F6"):
                k = cv.node(f"cloud.{c.name}", CLOUD_ICON.get(c.name, K8sNode),
                            f"{c.name} cluster\ningress {c.ingress_class}\nstorage {c.storage_class}",
                            model_id=c.name)
                for z in m.platform.zones:
                    pool = cv.node(f"cloud.{c.name}.{z.name}", Plain, f"{c.zones.get(z.name, '?')} ({z.name})\n{c.nodes_per_zone} × {c.node_type}")
                    cv.link(k, pool, color=MUTED)
            cv.link(tf, k, "provision", color=CONTROL, style="dashed")
    caption = (f"{len(m.clouds)} targets, each a regional cluster with one node pool per model zone: the zone names, machine "
               f"types, storage and ingress classes come from the model's clouds.")
    return cv.view("multi-cloud", caption, "capability", "clouds")


def defence_in_depth(m: NetShopModel) -> View:
    ing = m.platform.ingress
    pols = policies(m)
    objs = objects(m)
    roles = [o for o in objs if o["kind"] in ("Role", "ClusterRole")]
    mesh = capability(m, "mesh")
    supply = capability(m, "supply-chain")
    cv = Canvas(m, "Defence in depth: each layer stops what the one above let through", direction="LR")
    layers: list[tuple[str, list[tuple[type, str]]]] = [
        ("L1 edge", [(Ing, f"TLS {ing.host}\nsecret {ing.tls_secret}"), (Users, f"only {ing.service} admits\ningress traffic")]),
        ("L2 network", [(NetworkPolicy, f"default deny +\n{len(pols) - 1} allows")]),
    ]
    if mesh:
        layers.append(("L3 identity", [(Plain, f"{mesh.title}\nmTLS per call,\n{len(m.sync_edges)} authorised edges")]))
    layers.append(("L4 admission", [(NS, "Pod Security\nrestricted")] + ([(Trivy, "signed, scanned\nimages only")] if supply else [])
                   + [(Role, f"RBAC: {len(roles)} role(s)\nleast privilege")]))
    sec = ", ".join(k for k, v in CONTAINER_SECURITY.items() if v is True or k == "capabilities")
    layers.append(("L5 workload", [(Pod, f"uid {APP_UID}, {wrap(sec, 30)}\nseccomp RuntimeDefault")]))
    with cv:
        prev = cv.node("x.internet", Users, "the internet")
        for i, (title, items) in enumerate(layers):
            with cv.group(title, fill=["#FDEDEC", "#FEF5E7", "#EAF2F8", "#E8F8F5", "#F4ECF7"][i % 5]):
                nodes = [cv.node(f"layer.{i}.{j}", cls, label) for j, (cls, label) in enumerate(items)]
            for node in nodes:
                cv.link(prev, node, color=DENY)
                prev = node
        with cv.group("Data", fill=TIER_FILL["data"]):
            for d in m.datastores:
                workload(cv, d.name)
                cv.link(prev, workload(cv, d.name), f"declared clients only:\n{len(m.clients_of(d.name))} service(s)", color=DATA, style="dashed")
    caption = ("From the edge inwards: TLS at the Ingress, namespace-wide default deny with exact-edge allows, "
               + ("mutual TLS and per-edge authorisation, " if mesh else "")
               + "restricted Pod Security and least-privilege RBAC, and non-root, read-only, capability-free containers.")
    return cv.view("defence-in-depth", caption, "platform")


def platform_views(m: NetShopModel) -> list[View]:
    views = [zero_trust(m), zones(m), service_discovery(m), autoscaling(m), storage(m), governance(m)]
    if m.clouds:
        views.append(multi_cloud(m))
    views.append(defence_in_depth(m))
    return views
