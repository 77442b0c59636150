"""Capability views: the mesh, observability pipelines, HA data and backup/DR, GitOps, the supply chain, JWTs.

Each view exists only when the model declares the capability; the tools drawn (Linkerd, Jaeger,
Argo CD ...) are the capability's vocabulary, and every workload, edge and number comes from the model.
"""

from __future__ import annotations

from diagrams.generic.storage import Storage
from diagrams.k8s.compute import Deploy, Pod
from diagrams.k8s.network import Ing
from diagrams.k8s.podconfig import Secret
from diagrams.onprem.ci import GithubActions
from diagrams.onprem.client import Users
from diagrams.onprem.gitops import Argocd
from diagrams.onprem.logging import Loki
from diagrams.onprem.monitoring import Grafana, Prometheus
from diagrams.onprem.network import Istio, Linkerd
from diagrams.onprem.security import Trivy
from diagrams.onprem.tracing import Jaeger
from diagrams.onprem.vcs import Git

from model.schema import NetShopModel

from .diagrams_kit import (
    ALLOW,
    CONTROL,
    DATA,
    DENY,
    ENGINE_ICON,
    EVENT,
    MUTED,
    SYNC,
    TIER_FILL,
    Canvas,
    Plain,
    View,
    capability,
    data_link,
    place_by_tier,
    sync_link,
    tier_of,
    tier_summaries,
    tier_title,
    workload,
    wrap,
)


def _tier_cluster(m: NetShopModel, tier: str) -> str:
    return f"cluster_{tier_title(m, tier)}"


def _service_tiers(m: NetShopModel) -> list[str]:
    return [t.name for t in m.platform.tiers if any(s.tier == t.name for s in m.services)]


# --------------------------------------------------------------------------- mesh


def mesh(m: NetShopModel) -> View:
    cap = capability(m, "mesh")
    ing = m.platform.ingress
    cv = Canvas(m, f"{cap.title}: mutual TLS and an authorisation per model edge", direction="TB")
    with cv:
        with cv.group(f"namespace {m.platform.namespace}: every pod has a proxy and a workload identity", fill="white",
                      style="rounded,dashed", pencolor=ALLOW):
            place_by_tier(cv, m.workload_names)
        with cv.group("mesh control plane (pick one)", fill="#EAF2F8"):
            linkerd = cv.node("x.linkerd", Linkerd, "Linkerd: Server +\nAuthorizationPolicy per edge")
            istio = cv.node("x.istio", Istio, "Istio: STRICT mTLS,\ndeny-all + ALLOW per callee")
        gw = cv.node("x.gateway", Ing, f"Gateway API\nHTTPS {ing.host}\nweighted HTTPRoute → {ing.service}")
        cv.link(cv.node("x.users", Users, "shoppers"), gw, "HTTPS", color=SYNC)
        cv.link(gw, workload(cv, ing.service), "canary weights", color=SYNC)
        for e in m.sync_edges:
            sync_link(cv, e, label=f"mTLS, {len(m.routes_of_edge(e))} route(s)", color=ALLOW)
        for e in m.all_data_edges:
            data_link(cv, e)
        top = _service_tiers(m)[0]
        for cp in (linkerd, istio):
            cv.link(cp, workload(cv, ing.service), "certificates,\npolicy", color=CONTROL, style="dotted", lhead=_tier_cluster(m, top))
    caption = (f"{cap.summary} Caller identity is the ServiceAccount; each of the {len(m.sync_edges)} edges is authorised with "
               f"exactly its routes, and each datastore admits only its {len(m.all_data_edges)} declared connections.")
    return cv.view("service-mesh", caption, "capability", "mesh")


# --------------------------------------------------------------------------- observability


def _services_in_tiers(cv: Canvas) -> None:
    place_by_tier(cv, [s.name for s in cv.model.services])


def tracing(m: NetShopModel) -> View:
    cap = capability(m, "observability")
    tel = m.platform.telemetry
    cv = Canvas(m, "Observability: the tracing pipeline", direction="LR", ranksep="1.2")
    with cv:
        _services_in_tiers(cv)
        with cv.group(f"namespace {tel.collector_namespace}", fill="#FDEDEC"):
            col = cv.node("x.collector", Plain, f"OpenTelemetry Collector\n{tel.collector_service}\n"
                          f"OTLP gRPC :{tel.otlp_grpc_port} / HTTP :{tel.otlp_http_port}")
            spm = cv.node("x.spanmetrics", Plain, "spanmetrics connector\n(RED metrics per service)")
            jae = cv.node("x.jaeger", Jaeger, "Jaeger")
        prom = cv.node("x.prometheus", Prometheus, f"Prometheus ({tel.scraper_namespace})")
        graf = cv.node("x.grafana", Grafana, "Grafana")
        for s in m.services:
            cv.link(workload(cv, s.name), col, color=CONTROL, style="dotted")
        cv.link(col, jae, "spans", color=CONTROL)
        cv.link(col, spm, color=CONTROL)
        cv.link(spm, prom, "rate, errors, duration", color=CONTROL)
        cv.link(graf, jae, "trace view", color=MUTED, style="dashed")
        cv.link(graf, prom, color=MUTED, style="dashed")
    caption = (f"Every service exports OTLP spans to {tel.collector_service}.{tel.collector_namespace}:{tel.otlp_http_port}; "
               f"trace context crosses HTTP calls and the message bus, so one trace spans a whole flow. {cap.summary}")
    return cv.view("observability-tracing", caption, "capability", "observability")


def metrics(m: NetShopModel) -> View:
    tel = m.platform.telemetry
    cv = Canvas(m, "Observability: metrics, SLO burn-rate alerts and dashboards", direction="LR", ranksep="1.0")
    with cv:
        prom = cv.node("x.prometheus", Prometheus, f"Prometheus ({tel.scraper_namespace})\nServiceMonitor per service")
        _services_in_tiers(cv)
        with cv.group("PrometheusRules: multi-window burn rates per SLO", fill="#FDEDEC"):
            for s in m.services:
                cv.node(f"slo.{s.name}", Plain, f"{s.name}: {s.slo.availability}% · {s.slo.latency_ms} ms @ {s.slo.latency_target}%\n"
                        f"over {s.slo.window_days} days", fontsize="10")
        am = cv.node("x.alertmanager", Plain, "Alertmanager\npage / ticket")
        graf = cv.node("x.grafana", Grafana, "Grafana golden signals\nrate, errors, p95, zones")
        for s in m.services:
            cv.link(prom, workload(cv, s.name), "/metrics", color=CONTROL, style="dotted")
            cv.link(workload(cv, s.name), cv.nodes[f"slo.{s.name}"], color=MUTED, style="dashed")
            cv.link(cv.nodes[f"slo.{s.name}"], am, color=DENY, style="dotted")
        cv.link(graf, prom, "PromQL", color=MUTED, style="dashed")
    caption = ("Prometheus scrapes every service; each service's availability and latency objective from the model becomes "
               "fast- and slow-burn alerts, and a dashboard shows the golden signals per service and zone.")
    return cv.view("observability-metrics", caption, "capability", "observability")


def logs(m: NetShopModel) -> View:
    cv = Canvas(m, "Observability: logs correlated with traces", direction="LR", ranksep="1.2")
    with cv:
        _services_in_tiers(cv)
        tail = cv.node("x.promtail", Plain, "Promtail (DaemonSet)\nJSON logs with trace_id")
        loki = cv.node("x.loki", Loki, "Loki")
        jae = cv.node("x.jaeger", Jaeger, "Jaeger")
        graf = cv.node("x.grafana", Grafana, "Grafana")
        for s in m.services:
            cv.link(workload(cv, s.name), tail, color=CONTROL, style="dotted")
        cv.link(tail, loki, "push", color=CONTROL)
        cv.link(graf, loki, "LogQL", color=MUTED, style="dashed")
        cv.link(loki, jae, "trace_id → trace", color=EVENT, style="dashed")
    caption = "Structured logs from every service carry the trace id, so Grafana jumps from a log line to its trace and back."
    return cv.view("observability-logs", caption, "capability", "observability")


# --------------------------------------------------------------------------- HA data and backup / DR

ROLES = {"postgres": ("primary", "sync replica"), "redis": ("master", "replica"), "rabbitmq": ("quorum member", "quorum member")}
HA = {  # engine -> (members per zone, pooled entry point)
    "postgres": ("CloudNativePG instance", "PgBouncer Pooler"),
    "redis": ("Redis + Sentinel", "Sentinel-aware clients"),
    "rabbitmq": ("RabbitMQ node", "quorum queues"),
}


def data_ha(m: NetShopModel) -> View:
    cap = capability(m, "ha-data")
    zs = m.platform.zones
    cv = Canvas(m, f"{cap.title}: replicated datastores across {len(zs)} zones", direction="LR", ranksep="1.0")
    queues = [s.queue for e in m.events for s in e.subscriptions]
    with cv:
        place_by_tier(cv, sorted({e.service for e in m.all_data_edges}), stack=False)
        for d in m.datastores:
            member, entry = HA[d.kind]
            with cv.group(f"{d.name} ({d.kind}) — {len(zs)} members", fill=TIER_FILL["data"]):
                extra = f"\n{', '.join(queues)}" if d.kind == "rabbitmq" and queues else ""
                front = cv.node(f"ha.{d.name}.entry", Plain, f"{d.name}: {entry}{wrap(extra, 40) if extra else ''}", model_id=d.name)
                members = []
                for i, z in enumerate(zs):
                    role = ROLES[d.kind][0 if i == 0 else 1]
                    members.append(cv.node(f"ha.{d.name}.{z.name}", ENGINE_ICON[d.kind], f"{member}\n{role} in {z.name}"))
            for n in members:
                cv.link(front, n, color=DATA)
            for a, b in zip(members, members[1:]):
                cv.link(a, b, "replication", color=DATA, style="dashed", constraint="false")
            for c in m.clients_of(d.name):
                cv.link(workload(cv, c), front, color=EVENT if d.kind == "rabbitmq" else DATA, style="dashed", model_id=f"{c}->{d.name}")
    caption = f"{cap.summary} Clients are the services with a data edge in the model."
    return cv.view("data-ha", caption, "capability", "ha-data")


BACKUP = {  # engine -> (how it is captured, what restores it)
    "postgres": ("continuous WAL archiving\n+ daily base backup (Barman)", "recovery cluster\n(point-in-time restore)"),
    "redis": ("append-only file on its volume\n+ volume snapshots", "restore the snapshot\ninto a new volume"),
    "rabbitmq": ("definitions export\n(quorum queues replicated)", "import definitions\ninto a new cluster"),
}


def backup_dr(m: NetShopModel) -> View:
    cv = Canvas(m, "Backup and disaster recovery", direction="LR")
    with cv:
        bucket = cv.node("x.bucket", Storage, "object storage\n(versioned, other region)")
        for d in m.datastores:
            how, restore = BACKUP[d.kind]
            with cv.group(f"{d.name} ({d.kind}, {d.storage})", fill=TIER_FILL["data"]):
                src = workload(cv, d.name)
                cap = cv.node(f"backup.{d.name}", Plain, how)
            rec = cv.node(f"restore.{d.name}", Plain, restore, color=ALLOW)
            cv.link(src, cap, color=DATA)
            cv.link(cap, bucket, color=DATA)
            cv.link(bucket, rec, "restore", color=ALLOW, style="dashed")
    caption = ("Each datastore's backups leave the cluster: PostgreSQL streams WAL for point-in-time recovery, Redis keeps an "
               "append-only file, RabbitMQ exports its definitions; a restore builds a new cluster from object storage.")
    return cv.view("backup-dr", caption, "capability", "ha-data")


# --------------------------------------------------------------------------- delivery


def gitops(m: NetShopModel) -> View:
    cap = capability(m, "gitops")
    cv = Canvas(m, f"{cap.title}: Git is the source of truth", direction="LR")
    apps = [("platform", ["generated/k8s/netshop.yaml"])] + [(c.id, c.artifacts) for c in m.capabilities if c.id != "zero-trust"]
    with cv:
        git = cv.node("x.git", Git, "generated/ in Git\n(netshop generate --check)")
        argo = cv.node("x.argocd", Argocd, "Argo CD")
        with cv.group(f"AppProject {m.platform.name}: destinations and kinds allowed", fill="#EAF2F8"):
            root = cv.node("x.root", Plain, "app-of-apps")
            for wave, (name, paths) in enumerate(apps):
                cv.node(f"app.{name}", Plain, f"Application {name}\nsync wave {wave}\n" + "\n".join(paths),
                        model_id=name if name != "platform" else None)
        with cv.group(f"namespace {m.platform.namespace}", fill="white"):
            tiers = tier_summaries(cv, Deploy)
        cv.link(git, argo, "watch", color=CONTROL)
        cv.link(argo, root, "sync, self-heal", color=CONTROL)
        for name, _ in apps:
            cv.link(root, cv.nodes[f"app.{name}"], color=CONTROL)
        for node in tiers.values():
            cv.link(cv.nodes["app.platform"], node, "apply", color=ALLOW)
    caption = f"{cap.summary} One Application per bundle, applied in sync-wave order: {', '.join(n for n, _ in apps)}."
    return cv.view("gitops", caption, "capability", "gitops")


def progressive_delivery(m: NetShopModel) -> View:
    top = tier_of(m, m.platform.ingress.service)
    edge = [s for s in m.services if s.tier == top]
    cv = Canvas(m, "Progressive delivery: canary and blue-green gated on the SLO", direction="LR")
    with cv:
        prom = cv.node("x.prometheus", Prometheus, "Prometheus")
        for s in edge:
            with cv.group(f"Rollout {s.name}", fill=TIER_FILL.get(top, "white")):
                stable = cv.node(f"ro.{s.name}.stable", Deploy, f"{s.name} stable", model_id=s.name)
                canary = cv.node(f"ro.{s.name}.canary", Deploy, f"{s.name} canary")
                an = cv.node(f"ro.{s.name}.analysis", Plain, f"AnalysisTemplate\nsuccess ≥ {s.slo.availability}%\n"
                             f"p{s.slo.latency_target:g} ≤ {s.slo.latency_ms} ms")
            cv.link(stable, canary, "10% → 50% → 100%", color=SYNC)
            cv.link(canary, an, color=CONTROL)
            cv.link(an, prom, "query", color=CONTROL, style="dashed")
            cv.link(an, stable, "abort → roll back", color=DENY, style="dotted")
    caption = (f"The {len(edge)} services of the {top} tier roll out through Argo Rollouts; each step is promoted only while "
               f"its success rate and latency meet the service's SLO from the model.")
    return cv.view("progressive-delivery", caption, "capability", "gitops")


STAGES = ["lint", "smoke tests", "build image", "Trivy scan", "CycloneDX SBOM", "cosign sign", "push", "GitOps bump"]


def supply_chain(m: NetShopModel) -> View:
    cap = capability(m, "supply-chain")
    img = f"{m.platform.image}:{m.platform.version}"
    cv = Canvas(m, f"{cap.title}: only signed, scanned images run", direction="LR")
    with cv:
        with cv.group("CI workflow", fill="#F4F6F6"):
            prev = cv.node("x.push", GithubActions, "push to main")
            for i, stage in enumerate(STAGES):
                icon = Trivy if "Trivy" in stage else Plain
                label = f"{stage}\n{img}" if stage in ("build image", "push") else stage
                node = cv.node(f"stage.{i}", icon, label)
                cv.link(prev, node, color=CONTROL)
                prev = node
        argo = cv.node("x.argocd", Argocd, "Argo CD")
        kyv = cv.node("x.kyverno", Plain, "Kyverno admission\nverify cosign signature\nnon-root, limits, no :latest", color=DENY)
        cv.link(prev, argo, color=CONTROL)
        cv.link(argo, kyv, "apply", color=CONTROL)
        for node in tier_summaries(cv, Pod).values():
            cv.link(kyv, node, "admitted", color=ALLOW)
    caption = f"{cap.summary} Every service runs the one image {img}, so one signature covers all of them."
    return cv.view("supply-chain", caption, "capability", "supply-chain")


# --------------------------------------------------------------------------- identity


def jwt_lifecycle(m: NetShopModel) -> View:
    holders = [s.name for s in m.services if "jwt" in s.secrets]
    protected = {s.name: [r.ref for r in s.routes if r.auth] for s in m.services}
    gateways = [h for h in holders if any(e.caller == h and e.callee in holders for e in m.sync_edges)]
    issuers = [h for h in holders if any(e.callee == h and e.caller in holders for e in m.sync_edges)] or holders
    cv = Canvas(m, "The JWT lifecycle: issue, carry, verify, forward", direction="LR")
    with cv:
        shown = set(holders) | {e.callee for e in m.sync_edges if e.caller in gateways and protected.get(e.callee)}
        shown |= {e.datastore for e in m.all_data_edges if e.service in issuers}
        place_by_tier(cv, sorted(shown), bold=set(holders))
        secret = cv.node("x.jwt-secret", Secret, f"Secret {m.platform.jwt_secret}\nHS256 signing key")
        browser = cv.node("x.users", Users, "shopper\n(Bearer token)")
        for h in holders:
            cv.link(secret, workload(cv, h), "mounted", color=DENY, style="dotted")
        for g in gateways:
            cv.link(browser, workload(cv, g), "Authorization: Bearer", color=SYNC)
        for e in m.sync_edges:
            if e.caller in gateways and e.callee in holders:
                sync_link(cv, e, label=wrap("issue + verify: " + ", ".join(r.ref for r in m.routes_of_edge(e)), 34))
            elif e.caller in gateways and protected.get(e.callee):
                sync_link(cv, e, label=f"verified first: {len(protected[e.callee])} protected route(s)", color=ALLOW)
        for e in m.all_data_edges:
            if e.service in issuers:
                data_link(cv, e, label=wrap(e.purpose, 26))
    caption = (f"{', '.join(issuers)} issues short-lived HS256 tokens signed with the key in {m.platform.jwt_secret}; "
               f"{', '.join(gateways)} has every protected call verified before forwarding it with the user's id.")
    return cv.view("jwt-lifecycle", caption, "capability", "identity")


def capability_views(m: NetShopModel) -> list[View]:
    has = {c.id for c in m.capabilities}
    views = []
    if "mesh" in has:
        views.append(mesh(m))
    if "observability" in has:
        views += [tracing(m), metrics(m), logs(m)]
    if "ha-data" in has:
        views += [data_ha(m), backup_dr(m)]
    if "gitops" in has:
        views += [gitops(m), progressive_delivery(m)]
    if "supply-chain" in has:
        views.append(supply_chain(m))
    if any("jwt" in s.secrets for s in m.services):
        views.append(jwt_lifecycle(m))
    return views
