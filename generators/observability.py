"""Observability: traces, metrics and logs of the platform, correlated by trace id, from the model.

- The OpenTelemetry Collector receives OTLP, turns spans into RED metrics (spanmetrics) and sends
  traces to Jaeger; Promtail ships pod logs to Loki and Grafana links a log line's trace id to Jaeger.
- A ServiceMonitor per service; SLO rules per service: multi-window, multi-burn-rate alerts
  (Google SRE workbook) computed from the service's `slo`, with promtool unit tests per model.
- A golden-signals dashboard per model, and a local Prometheus config for `make up`.

The metric names below are the contract with the services' shared library (METRICS).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from model.schema import NetShopModel, Service

from .base import Artifact, json_file, k8s, to_yaml, yaml_file, yaml_stream
from .k8s import CONTAINER_SECURITY, platform_labels, selector

ROOTS = ("observability/",)

# The metrics every service exports on /metrics (the shared service library implements them).
METRICS: dict[str, str] = {
    "http_server_requests_total": "counter{service,route,method,status,zone}: requests a service answered",
    "http_server_request_duration_seconds_bucket": "histogram{service,route,method,zone,le}: time to answer",
    "http_client_requests_total": "counter{service,peer,status}: calls a service made to a peer",
    "http_client_request_duration_seconds_bucket": "histogram{service,peer,le}: time a peer took to answer",
    "netshop_queue_depth": "gauge{queue}: messages ready in a queue",
    "netshop_events_consumed_total": "counter{service,queue,outcome}: deliveries a consumer handled",
}
# Outcomes of netshop_events_consumed_total; a dead-lettered delivery spends the consumer's error budget.
EVENT_OUTCOMES = ("processed", "duplicate", "retried", "dead_lettered")
FAILED_OUTCOME = "dead_lettered"
# Routes every service has that are not user traffic (probes and scrapes): outside every SLI.
OPERATIONAL_ROUTES = ("/healthz", "/readyz", "/metrics")

OTEL_IMAGE = "otel/opentelemetry-collector-contrib:0.115.1"
LOKI_IMAGE = "grafana/loki:3.3.2"
PROMTAIL_IMAGE = "grafana/promtail:3.3.2"
JAEGER_IMAGE = "jaegertracing/all-in-one:1.64.0"
JAEGER = "jaeger"  # the Jaeger CR; the operator names its Services jaeger-collector and jaeger-query
LOKI = "loki"
PROMTAIL = "promtail"
LOKI_PORT = 3100
SPANMETRICS_PORT = 8889
LOCAL_PROMETHEUS_PORT = 9090


# --------------------------------------------------------------------------- SLO arithmetic


@dataclass(frozen=True)
class BurnWindow:
    """One window pair of a multi-window alert: fire when both windows burn faster than `factor`."""

    long: str
    short: str
    budget_spent: float  # fraction of the whole window's budget the long window may consume


@dataclass(frozen=True)
class Severity:
    name: str
    speed: str
    pairs: tuple[BurnWindow, BurnWindow]
    hold: str  # the alert's `for`


# Google SRE workbook, "Alerting on SLOs", recommended parameters (for a 30-day window these give
# burn rates 14.4, 6, 3 and 1; other windows scale the factors with their length).
SEVERITIES = (
    Severity("page", "Fast", (BurnWindow("1h", "5m", 0.02), BurnWindow("6h", "30m", 0.05)), "2m"),
    Severity("ticket", "Slow", (BurnWindow("1d", "2h", 0.10), BurnWindow("3d", "6h", 0.10)), "15m"),
)
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    return int(duration[:-1]) * _UNITS[duration[-1]]


def windows() -> list[str]:
    """Every rate window the SLO rules record, shortest first."""
    ws = {w for sev in SEVERITIES for p in sev.pairs for w in (p.long, p.short)}
    return sorted(ws, key=seconds)


def burn_factor(window_days: int, pair: BurnWindow) -> float:
    """Burn rate at which the long window spends `budget_spent` of the whole window's budget."""
    return round(pair.budget_spent * window_days * 86400 / seconds(pair.long), 6)


def num(x: float) -> str:
    """A number as PromQL and YAML show it: no float noise, no trailing `.0` for integers."""
    return f"{round(x, 10):.10g}"


def slo_kinds(model: NetShopModel, svc: Service) -> list[str]:
    """The SLIs a service has: HTTP availability and latency, or event availability for a routeless consumer."""
    if svc.routes:
        return ["availability", "latency"]
    if model.subscriptions_of(svc.name):
        return ["availability"]
    return []


def budget(svc: Service, kind: str) -> float:
    target = svc.slo.availability if kind == "availability" else svc.slo.latency_target
    return round(1 - target / 100, 10)


def le_value(ms: int) -> str:
    """The `le` label of a bucket boundary in milliseconds, as Prometheus client libraries print it."""
    return repr(ms / 1000)


def le_matcher(ms: int) -> str:
    value = le_value(ms)
    if value.endswith(".0"):  # some exporters print `1`, others `1.0`
        return f'le=~"{value[:-2]}(\\\\.0)?"'
    return f'le="{value}"'


def latency_buckets_ms(model: NetShopModel) -> list[str]:
    """The model's latency buckets as collector durations (`2.5ms`)."""
    return [f"{ms:g}" for ms in model.latency_buckets_ms()]


def _user_traffic(svc: Service) -> str:
    return f'service="{svc.name}",route!~"{"|".join(OPERATIONAL_ROUTES)}"'


def sli_error_ratio(model: NetShopModel, svc: Service, kind: str, window: str) -> str:
    """PromQL for the fraction of bad events of one SLI over a window."""
    if kind == "availability" and not svc.routes:
        sel = f'service="{svc.name}"'
        return (
            f'sum by (service) (rate(netshop_events_consumed_total{{{sel},outcome="{FAILED_OUTCOME}"}}[{window}]))\n'
            f"/\nsum by (service) (rate(netshop_events_consumed_total{{{sel}}}[{window}]))"
        )
    sel = _user_traffic(svc)
    if kind == "availability":
        return (
            f'sum by (service) (rate(http_server_requests_total{{{sel},status=~"5.."}}[{window}]))\n'
            f"/\nsum by (service) (rate(http_server_requests_total{{{sel}}}[{window}]))"
        )
    bucket = "http_server_request_duration_seconds_bucket"
    return (
        f"1 - (\n  sum by (service) (rate({bucket}{{{sel},{le_matcher(svc.slo.latency_ms)}}}[{window}]))\n"
        f'  /\n  sum by (service) (rate({bucket}{{{sel},le="+Inf"}}[{window}]))\n)'
    )


def record_name(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def alert_name(kind: str, severity: Severity) -> str:
    return f"{kind.capitalize()}BudgetBurn{severity.speed}"


def alert_annotations(model: NetShopModel, svc: Service, kind: str, severity: Severity) -> dict[str, str]:
    slo = svc.slo
    objective = (
        f"{num(slo.availability)}% of requests without a 5xx"
        if kind == "availability" and svc.routes
        else f"{num(slo.availability)}% of deliveries not dead-lettered"
        if kind == "availability"
        else f"{num(slo.latency_target)}% of requests within {slo.latency_ms} ms"
    )
    pairs = " or ".join(
        f"{num(burn_factor(slo.window_days, p))}x over {p.long} and {p.short}" for p in severity.pairs
    )
    return {
        "summary": f"{svc.name} is spending its {kind} error budget {severity.speed.lower()}",
        "description": f"Objective: {objective} over {slo.window_days} days. Burn rate above {pairs}.",
    }


def alert_labels(svc: Service, kind: str, severity: Severity) -> dict[str, str]:
    return {"service": svc.name, "severity": severity.name, "slo": kind}


def slo_group(model: NetShopModel, svc: Service) -> dict:
    """Recording rules for each SLI and window, then the page and ticket alerts that read them."""
    rules: list[dict] = []
    for kind in slo_kinds(model, svc):
        for w in windows():
            rules.append(
                {"record": record_name(w), "expr": sli_error_ratio(model, svc, kind, w), "labels": {"service": svc.name, "slo": kind}}
            )
    for kind in slo_kinds(model, svc):
        b = budget(svc, kind)
        for sev in SEVERITIES:
            sel = f'{{service="{svc.name}",slo="{kind}"}}'
            terms = []
            for pair in sev.pairs:
                threshold = num(burn_factor(svc.slo.window_days, pair) * b)
                terms.append(
                    f"(\n  {record_name(pair.long)}{sel} > {threshold}\n  and\n  {record_name(pair.short)}{sel} > {threshold}\n)"
                )
            rules.append(
                {
                    "alert": alert_name(kind, sev),
                    "expr": "\nor\n".join(terms),
                    "for": sev.hold,
                    "labels": alert_labels(svc, kind, sev),
                    "annotations": alert_annotations(model, svc, kind, sev),
                }
            )
    return {"name": f"slo-{svc.name}", "rules": rules}


def golden_group(model: NetShopModel) -> dict:
    """Recording rules for the golden signals other consumers (rollout analysis, reports) read."""
    req = "http_server_requests_total"
    bucket = "http_server_request_duration_seconds_bucket"
    return {
        "name": f"{model.platform.name}-golden-signals",
        "rules": [
            {"record": "service:http_server_requests:rate5m", "expr": f"sum by (service) (rate({req}[5m]))"},
            {
                "record": "service:http_server_requests_errors:ratio_rate5m",
                "expr": f'sum by (service) (rate({req}{{status=~"5.."}}[5m]))\n/\nsum by (service) (rate({req}[5m]))',
            },
            {
                "record": "service:http_server_request_duration_seconds:p95_5m",
                "expr": f"histogram_quantile(0.95, sum by (service, le) (rate({bucket}[5m])))",
            },
            {"record": "service_zone:http_server_requests:rate5m", "expr": f"sum by (service, zone) (rate({req}[5m]))"},
            {
                "record": "service_peer:http_client_requests:rate5m",
                "expr": "sum by (service, peer, status) (rate(http_client_requests_total[5m]))",
            },
            {"record": "queue:netshop_queue_depth:max", "expr": "max by (queue) (netshop_queue_depth)"},
            {
                "record": "service_queue_outcome:netshop_events_consumed:rate5m",
                "expr": "sum by (service, queue, outcome) (rate(netshop_events_consumed_total[5m]))",
            },
        ],
    }


def rule_groups(model: NetShopModel) -> list[dict]:
    return [golden_group(model)] + [slo_group(model, s) for s in model.services if slo_kinds(model, s)]


def rules_file(model: NetShopModel) -> str:
    return f"{model.platform.name}.rules.yaml"


# --------------------------------------------------------------------------- promtool unit tests


SAMPLE_INTERVAL = {"page": "1m", "ticket": "5m"}
EVAL_INTERVAL = {"page": "5m", "ticket": "1h"}
REQUESTS_PER_MINUTE = 600


def _fmt(x: float) -> str:
    return num(round(x, 9))


def counter(segments: list[tuple[float, int]]) -> str:
    """promtool series notation for a counter growing by `inc` per sample for `n` samples, segment after segment."""
    parts, cur = ["0"], 0.0
    for inc, n in segments:
        if n <= 0:
            continue
        parts.append(f"{_fmt(cur + inc)}+{_fmt(inc)}x{n - 1}" if n > 1 else _fmt(cur + inc))
        cur += inc * n
    return " ".join(parts)


def _series(model: NetShopModel, svc: Service, kind: str, per_sample: float, phases: list[tuple[float, int]]) -> list[dict]:
    """Input series of one SLI: `phases` are (bad ratio, samples); `per_sample` events arrive per sample."""
    good = counter([(per_sample * (1 - r), n) for r, n in phases])
    bad = counter([(per_sample * r, n) for r, n in phases])
    total = counter([(per_sample, n) for _, n in phases])
    zone = model.platform.zones[0].name
    if kind == "availability" and not svc.routes:
        queue = model.subscriptions_of(svc.name)[0][1].queue
        base = f'netshop_events_consumed_total{{service="{svc.name}",queue="{queue}"'
        return [
            {"series": f'{base},outcome="processed"}}', "values": good},
            {"series": f'{base},outcome="{FAILED_OUTCOME}"}}', "values": bad},
        ]
    route = svc.routes[0]
    labels = f'service="{svc.name}",route="{route.path}",method="{route.method if route.method != "ANY" else "GET"}",zone="{zone}"'
    if kind == "availability":
        return [
            {"series": f'http_server_requests_total{{{labels},status="200"}}', "values": good},
            {"series": f'http_server_requests_total{{{labels},status="503"}}', "values": bad},
            # probes never count: a failing readiness probe must not burn the budget
            {"series": f'http_server_requests_total{{service="{svc.name}",route="/readyz",method="GET",zone="{zone}",status="503"}}', "values": total},
        ]
    bucket = f"http_server_request_duration_seconds_bucket{{{labels}"
    return [
        {"series": f'{bucket},le="{le_value(svc.slo.latency_ms)}"}}', "values": good},
        {"series": f'{bucket},le="+Inf"}}', "values": total},
    ]


def _minutes(duration: str) -> int:
    return seconds(duration) // 60


def _fmt_duration(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60}m" if minutes % 60 else f"{minutes // 60}h"


SLI_KINDS = ("availability", "latency")


def _scenario(model: NetShopModel, sev: Severity, name: str, plan) -> dict | None:
    """One promtool test group: every SLI of every service runs the same incident shape at its own rates."""
    step = _minutes(SAMPLE_INTERVAL[sev.name])
    per_sample = REQUESTS_PER_MINUTE * step
    series: list[dict] = []
    alerts: dict[str, list[dict]] = {}
    exprs: list[dict] = []
    eval_min = 0
    for kind in SLI_KINDS:
        for svc in model.services:
            if kind not in slo_kinds(model, svc):
                continue
            b = budget(svc, kind)
            factors = [burn_factor(svc.slo.window_days, p) for p in sev.pairs]
            result = plan(b, factors)
            if result is None:
                continue
            phases_min, fires, hot = result
            series += _series(model, svc, kind, per_sample, [(r, m // step) for r, m in phases_min])
            eval_min = sum(m for _, m in phases_min)
            expected = alerts.setdefault(alert_name(kind, sev), [])
            if fires:
                expected.append({"exp_labels": alert_labels(svc, kind, sev), "exp_annotations": alert_annotations(model, svc, kind, sev)})
            for window, factor in hot:
                sel = f'{{service="{svc.name}",slo="{kind}"}}'
                exprs.append(
                    {
                        "expr": f"{record_name(window)}{sel} > bool {num(factor * b)}",
                        "eval_time": _fmt_duration(eval_min),
                        "exp_samples": [{"labels": f'{{service="{svc.name}", slo="{kind}"}}', "value": 1}],
                    }
                )
    if not series:
        return None
    # promtool compares every alert of a name at an instant with one list: all services expect together
    checks = [{"eval_time": _fmt_duration(eval_min), "alertname": a, "exp_alerts": e} for a, e in alerts.items()]
    group: dict = {"name": name, "interval": SAMPLE_INTERVAL[sev.name], "input_series": series, "alert_rule_test": checks}
    if exprs:
        group["promql_expr_test"] = exprs
    return group


def slo_tests(model: NetShopModel, sev: Severity) -> dict:
    """promtool tests: each window pair fires just above its burn rate, stays quiet just below it,
    and a long window that still burns stays quiet once its short window has recovered."""
    tick = _minutes(EVAL_INTERVAL[sev.name])
    # a healthy lead-in fills the longest window, so a shorter pair's incident is diluted there as in production
    longest = max(_minutes(p.long) for p in sev.pairs)
    settle = -(-(_minutes(sev.hold) + 10) // tick) * tick  # time for `for:` to pass, whole evaluation steps
    recover = max(_minutes(p.short) for p in sev.pairs) + tick  # every short window back to healthy
    groups = []
    for i, pair in enumerate(sev.pairs):
        for label, scale, fires in (("fires", 1.1, True), ("stays quiet", 0.9, False)):

            def plan(b, factors, i=i, pair=pair, scale=scale, fires=fires):
                ratio = scale * factors[i] * b
                if ratio >= 1:
                    return None  # the objective is so loose this burn rate cannot happen
                return [(0.0, longest - _minutes(pair.long)), (ratio, _minutes(pair.long) + (settle if fires else 0))], fires, []

            g = _scenario(model, sev, f"{sev.name}: {label} at {scale}x the {pair.long}/{pair.short} burn rate", plan)
            if g:
                groups.append(g)
    first = sev.pairs[0]

    def gated(b, factors):
        ratio = 3 * factors[0] * b
        if ratio >= 1:
            return None
        hot = [(p.long, f) for p, f in zip(sev.pairs, factors, strict=True)]
        return [(0.0, longest - _minutes(first.long)), (ratio, _minutes(first.long)), (0.0, recover)], False, hot

    g = _scenario(model, sev, f"{sev.name}: long windows still burn, short windows recovered: quiet", gated)
    if g:
        groups.append(g)
    return {
        "rule_files": [f"../rules/{rules_file(model)}"],
        "evaluation_interval": EVAL_INTERVAL[sev.name],
        "tests": groups,
    }


# --------------------------------------------------------------------------- Kubernetes objects


def _obs_labels(model: NetShopModel, name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": f"{model.platform.name}-observability"}


def _pod_security(uid: int) -> dict:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid, "seccompProfile": {"type": "RuntimeDefault"}}


def _resources(cpu: str, mem: str, cpu_limit: str, mem_limit: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": cpu_limit, "memory": mem_limit}}


def collector_config(model: NetShopModel) -> dict:
    tel = model.platform.telemetry
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{tel.otlp_grpc_port}"},
                    "http": {"endpoint": f"0.0.0.0:{tel.otlp_http_port}"},
                }
            }
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "batch": {"timeout": "5s", "send_batch_size": 1024},
        },
        "connectors": {
            "spanmetrics": {
                "namespace": "traces.span.metrics",
                "histogram": {"explicit": {"buckets": [f"{ms}ms" for ms in latency_buckets_ms(model)]}},
                "dimensions": [{"name": "http.request.method"}, {"name": "http.route"}, {"name": "http.response.status_code"}],
                "exemplars": {"enabled": True},
                "metrics_flush_interval": "15s",
            }
        },
        "exporters": {
            "otlp/jaeger": {
                "endpoint": f"{JAEGER}-collector.{tel.collector_namespace}.svc.cluster.local:{tel.otlp_grpc_port}",
                "tls": {"insecure": True},
            },
            "prometheus": {"endpoint": f"0.0.0.0:{SPANMETRICS_PORT}", "resource_to_telemetry_conversion": {"enabled": True}},
        },
        "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": ["otlp/jaeger", "spanmetrics"]},
                "metrics/spanmetrics": {"receivers": ["spanmetrics"], "processors": ["memory_limiter", "batch"], "exporters": ["prometheus"]},
            },
        },
    }


def collector(model: NetShopModel) -> list[dict]:
    """The collector as plain objects whose name and labels are the model's (the NetworkPolicies select them)."""
    tel = model.platform.telemetry
    ns = tel.collector_namespace
    lab = {**_obs_labels(model, tel.collector_service), **tel.collector_labels}
    ports = [("otlp-grpc", tel.otlp_grpc_port), ("otlp-http", tel.otlp_http_port), ("metrics", SPANMETRICS_PORT)]
    zones = len(model.platform.zones)
    return [
        k8s("v1", "ConfigMap", f"{tel.collector_service}-config", ns, labels=lab, data={"config.yaml": to_yaml(collector_config(model))}),
        k8s("v1", "ServiceAccount", tel.collector_service, ns, labels=lab, automountServiceAccountToken=False),
        k8s(
            "v1", "Service", tel.collector_service, ns, labels=lab,
            spec={
                "type": "ClusterIP",
                "selector": dict(tel.collector_labels),
                "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"} for n, p in ports],
            },
        ),
        k8s(
            "apps/v1", "Deployment", tel.collector_service, ns, labels=lab,
            spec={
                "replicas": zones,
                "selector": {"matchLabels": dict(tel.collector_labels)},
                "template": {
                    "metadata": {"labels": lab},
                    "spec": {
                        "serviceAccountName": tel.collector_service,
                        "automountServiceAccountToken": False,
                        "securityContext": _pod_security(10001),
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": {"matchLabels": dict(tel.collector_labels)},
                            }
                        ],
                        "containers": [
                            {
                                "name": "otel-collector",
                                "image": OTEL_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["--config=/conf/config.yaml"],
                                "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in ports],
                                "livenessProbe": {"httpGet": {"path": "/", "port": 13133}, "periodSeconds": 10},
                                "readinessProbe": {"httpGet": {"path": "/", "port": 13133}, "periodSeconds": 5},
                                "resources": _resources("100m", "256Mi", "1", "512Mi"),
                                "securityContext": CONTAINER_SECURITY,
                                "volumeMounts": [{"name": "config", "mountPath": "/conf", "readOnly": True}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": f"{tel.collector_service}-config"}}],
                    },
                },
            },
        ),
    ]


def jaeger(model: NetShopModel) -> dict:
    ns = model.platform.telemetry.collector_namespace
    return k8s(
        "jaegertracing.io/v1", "Jaeger", JAEGER, ns, labels=_obs_labels(model, JAEGER),
        spec={
            "strategy": "allInOne",
            "allInOne": {"image": JAEGER_IMAGE, "options": {"memory": {"max-traces": 100000}}},
            "storage": {"type": "memory"},
            "ingress": {"enabled": False},
            "resources": _resources("100m", "256Mi", "1", "1Gi"),
        },
    )


def loki_config() -> dict:
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": LOKI_PORT},
        "common": {
            "path_prefix": "/var/loki",
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {"filesystem": {"chunks_directory": "/var/loki/chunks", "rules_directory": "/var/loki/rules"}},
        },
        "schema_config": {
            "configs": [{"from": "2024-01-01", "store": "tsdb", "object_store": "filesystem", "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]
        },
        "limits_config": {"allow_structured_metadata": True, "retention_period": "168h"},
        "compactor": {"working_directory": "/var/loki/compactor", "retention_enabled": True, "delete_request_store": "filesystem"},
    }


def loki_url(model: NetShopModel) -> str:
    return f"http://{LOKI}.{model.platform.telemetry.collector_namespace}.svc.cluster.local:{LOKI_PORT}"


def promtail_config(model: NetShopModel) -> dict:
    """Pod logs of the platform namespace; JSON lines keep trace_id/span_id as structured metadata."""
    return {
        "server": {"http_listen_port": 3101, "grpc_listen_port": 0},
        "positions": {"filename": "/run/promtail/positions.yaml"},
        "clients": [{"url": f"{loki_url(model)}/loki/api/v1/push"}],
        "scrape_configs": [
            {
                "job_name": f"{model.platform.name}-pods",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [model.platform.namespace]}}],
                "pipeline_stages": [
                    {"cri": {}},
                    {"json": {"expressions": {"trace_id": "trace_id", "span_id": "span_id", "level": "level", "zone": "zone"}}},
                    {"labels": {"level": None, "zone": None}},
                    {"structured_metadata": {"trace_id": None, "span_id": None}},
                ],
                "relabel_configs": [
                    {"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], "target_label": "service"},
                    {"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_component"], "target_label": "tier"},
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                    {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
                    {
                        "source_labels": ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"],
                        "separator": "/",
                        "target_label": "__path__",
                        "replacement": "/var/log/pods/*$1/*.log",
                    },
                ],
            }
        ],
    }


def logs(model: NetShopModel) -> list[dict]:
    """Loki (single binary) and the Promtail DaemonSet that feeds it."""
    ns = model.platform.telemetry.collector_namespace
    loki_lab = _obs_labels(model, LOKI)
    tail_lab = _obs_labels(model, PROMTAIL)
    return [
        k8s("v1", "ConfigMap", f"{LOKI}-config", ns, labels=loki_lab, data={"config.yaml": to_yaml(loki_config())}),
        k8s("v1", "ServiceAccount", LOKI, ns, labels=loki_lab, automountServiceAccountToken=False),
        k8s(
            "v1", "Service", LOKI, ns, labels=loki_lab,
            spec={"type": "ClusterIP", "selector": loki_lab, "ports": [{"name": "http", "port": LOKI_PORT, "targetPort": LOKI_PORT, "protocol": "TCP"}]},
        ),
        k8s(
            "apps/v1", "StatefulSet", LOKI, ns, labels=loki_lab,
            spec={
                "serviceName": LOKI,
                "replicas": 1,
                "selector": {"matchLabels": loki_lab},
                "template": {
                    "metadata": {"labels": loki_lab},
                    "spec": {
                        "serviceAccountName": LOKI,
                        "automountServiceAccountToken": False,
                        "securityContext": _pod_security(10001),
                        "containers": [
                            {
                                "name": LOKI,
                                "image": LOKI_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["-config.file=/etc/loki/config.yaml"],
                                "ports": [{"name": "http", "containerPort": LOKI_PORT, "protocol": "TCP"}],
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
                                "livenessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 30, "failureThreshold": 5},
                                "resources": _resources("100m", "256Mi", "1", "1Gi"),
                                "securityContext": CONTAINER_SECURITY,
                                "volumeMounts": [
                                    {"name": "config", "mountPath": "/etc/loki", "readOnly": True},
                                    {"name": "data", "mountPath": "/var/loki"},
                                ],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": f"{LOKI}-config"}}],
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "labels": loki_lab},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
                    }
                ],
            },
        ),
        k8s("v1", "ConfigMap", f"{PROMTAIL}-config", ns, labels=tail_lab, data={"config.yaml": to_yaml(promtail_config(model))}),
        k8s("v1", "ServiceAccount", PROMTAIL, ns, labels=tail_lab),
        k8s(
            "rbac.authorization.k8s.io/v1", "ClusterRole", f"{model.platform.name}-{PROMTAIL}", labels=tail_lab,
            rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        ),
        k8s(
            "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", f"{model.platform.name}-{PROMTAIL}", labels=tail_lab,
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"{model.platform.name}-{PROMTAIL}"},
            subjects=[{"kind": "ServiceAccount", "name": PROMTAIL, "namespace": ns}],
        ),
        k8s(
            "apps/v1", "DaemonSet", PROMTAIL, ns, labels=tail_lab,
            spec={
                "selector": {"matchLabels": tail_lab},
                "template": {
                    "metadata": {"labels": tail_lab},
                    "spec": {
                        "serviceAccountName": PROMTAIL,
                        # reading other pods' log files on the node needs root; nothing else is granted
                        "securityContext": {"runAsUser": 0, "runAsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [
                            {
                                "name": PROMTAIL,
                                "image": PROMTAIL_IMAGE,
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["-config.file=/etc/promtail/config.yaml"],
                                "env": [{"name": "HOSTNAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                                "ports": [{"name": "http", "containerPort": 3101, "protocol": "TCP"}],
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
                                "resources": _resources("50m", "64Mi", "500m", "256Mi"),
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [
                                    {"name": "config", "mountPath": "/etc/promtail", "readOnly": True},
                                    {"name": "run", "mountPath": "/run/promtail"},
                                    {"name": "pods", "mountPath": "/var/log/pods", "readOnly": True},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": f"{PROMTAIL}-config"}},
                            {"name": "run", "hostPath": {"path": "/run/promtail", "type": "DirectoryOrCreate"}},
                            {"name": "pods", "hostPath": {"path": "/var/log/pods", "type": "Directory"}},
                        ],
                    },
                },
            },
        ),
    ]


def observability_namespace(model: NetShopModel) -> list[dict]:
    ns = model.platform.telemetry.collector_namespace
    if ns == model.platform.namespace:
        return []
    # Promtail reads node log files (hostPath), which only the privileged level admits; audit and warn stay restricted.
    psa = {"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted"}
    return [k8s("v1", "Namespace", ns, labels={**_obs_labels(model, ns), **psa})]


def service_monitors(model: NetShopModel) -> list[dict]:
    ns = model.platform.namespace
    tel = model.platform.telemetry
    out = [
        k8s(
            "monitoring.coreos.com/v1", "ServiceMonitor", svc.name, ns, labels={**platform_labels(model), "app.kubernetes.io/name": svc.name},
            spec={
                "selector": {"matchLabels": selector(model, svc.name)},
                "namespaceSelector": {"matchNames": [ns]},
                # the services label their own metrics with `service`; keep them over the target's labels
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s", "honorLabels": True}],
            },
        )
        for svc in model.services
    ]
    out.append(
        k8s(
            "monitoring.coreos.com/v1", "ServiceMonitor", f"{tel.collector_service}-spanmetrics", tel.collector_namespace,
            labels=_obs_labels(model, tel.collector_service),
            spec={
                "selector": {"matchLabels": dict(tel.collector_labels)},
                "namespaceSelector": {"matchNames": [tel.collector_namespace]},
                "endpoints": [{"port": "metrics", "interval": "30s"}],
            },
        )
    )
    return out


def prometheus_rule(model: NetShopModel) -> dict:
    return k8s(
        "monitoring.coreos.com/v1", "PrometheusRule", f"{model.platform.name}-slo", model.platform.namespace,
        labels=platform_labels(model), spec={"groups": rule_groups(model)},
    )


# --------------------------------------------------------------------------- Grafana


DS_PROM = {"type": "prometheus", "uid": "prometheus"}


def datasources(model: NetShopModel) -> dict:
    """Grafana provisioning: Loki's derived field turns a log line's trace_id into a Jaeger link, and back."""
    tel = model.platform.telemetry
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus", "uid": "prometheus", "type": "prometheus", "isDefault": True,
                "url": f"http://prometheus-operated.{tel.scraper_namespace}.svc.cluster.local:9090",
                "jsonData": {"exemplarTraceIdDestinations": [{"name": "trace_id", "datasourceUid": "jaeger"}]},
            },
            {
                "name": "Loki", "uid": "loki", "type": "loki", "url": loki_url(model),
                "jsonData": {
                    "derivedFields": [
                        {"name": "TraceID", "matcherRegex": TRACE_ID_REGEX, "url": "$${__value.raw}", "datasourceUid": "jaeger"}
                    ]
                },
            },
            {
                "name": "Jaeger", "uid": "jaeger", "type": "jaeger",
                "url": f"http://{JAEGER}-query.{tel.collector_namespace}.svc.cluster.local:16686",
                "jsonData": {"tracesToLogsV2": {"datasourceUid": "loki", "filterByTraceID": True, "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m"}},
            },
        ],
    }


# A JSON log line's trace id (32 hex digits), as the services' logger writes it.
TRACE_ID_REGEX = r'"trace_id"\s*:\s*"([0-9a-f]{32})"'


def _panel(pid: int, title: str, x: int, y: int, w: int, h: int, targets: list[tuple[str, str]], unit: str, **field) -> dict:
    defaults: dict = {"unit": unit}
    defaults.update(field)
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": DS_PROM,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS_PROM, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _threshold_line(value: float) -> dict:
    """Field config that draws the objective as a red line on a time series."""
    steps = [{"color": "green", "value": None}, {"color": "red", "value": value}]
    return {"thresholds": {"mode": "absolute", "steps": steps}, "custom": {"thresholdsStyle": {"mode": "line"}}}


def dashboard(model: NetShopModel) -> dict:
    """Golden signals per service (rate, errors, p95 against the SLO, zone split, peer calls) and per queue."""
    panels: list[dict] = []
    y = 0
    req, bucket = "http_server_requests_total", "http_server_request_duration_seconds_bucket"
    ri = "$__rate_interval"

    def row(height: int, *cells: tuple[str, str, str, str, dict]) -> None:
        """Panels of equal width side by side: (title, expr, legend, unit, field config) each."""
        nonlocal y
        width = 24 // len(cells)
        for i, (title, expr, legend, unit, field) in enumerate(cells):
            panels.append(_panel(len(panels) + 1, title, i * width, y, width, height, [(expr, legend)], unit, **field))
        y += height

    for svc in model.services:
        panels.append(
            {"id": len(panels) + 1, "type": "row", "title": f"{svc.name} — {svc.tier}", "collapsed": False,
             "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}
        )
        y += 1
        sel = f'service="{svc.name}"'
        row(
            8,
            (f"{svc.name}: rate", f"sum by (route) (rate({req}{{{sel}}}[{ri}]))", "{{route}}", "reqps", {}),
            (f"{svc.name}: errors", f'sum(rate({req}{{{sel},status=~"5.."}}[{ri}])) / sum(rate({req}{{{sel}}}[{ri}]))',
             "5xx ratio", "percentunit", _threshold_line(budget(svc, "availability"))),
            (f"{svc.name}: p95 latency (SLO {svc.slo.latency_ms} ms)",
             f"histogram_quantile(0.95, sum by (le) (rate({bucket}{{{sel}}}[{ri}])))", "p95", "s",
             _threshold_line(svc.slo.latency_ms / 1000)),
            (f"{svc.name}: zone split", f"sum by (zone) (rate({req}{{{sel}}}[{ri}]))", "{{zone}}", "reqps", {}),
        )
        if model.peers_of(svc.name):
            row(
                7,
                (f"{svc.name}: calls to peers", f"sum by (peer, status) (rate(http_client_requests_total{{{sel}}}[{ri}]))",
                 "{{peer}} {{status}}", "reqps", {}),
                (f"{svc.name}: peer p95",
                 f"histogram_quantile(0.95, sum by (peer, le) (rate(http_client_request_duration_seconds_bucket{{{sel}}}[{ri}])))",
                 "{{peer}}", "s", {}),
            )
        for event, sub in model.subscriptions_of(svc.name):
            row(
                7,
                (f"{svc.name}: queue depth {sub.queue}",
                 f'max by (queue) (netshop_queue_depth{{queue=~"{sub.queue}|{sub.dead_letter_queue}"}})', "{{queue}}", "short", {}),
                (f"{svc.name}: {event.name} consumed",
                 f'sum by (outcome) (rate(netshop_events_consumed_total{{{sel},queue="{sub.queue}"}}[{ri}]))', "{{outcome}}", "ops", {}),
            )
    return {
        "title": f"{model.platform.title} golden signals",
        "uid": f"{model.platform.name}-golden-signals",
        "description": f"Rate, errors, p95 against the SLO, zone split and queues of every {model.platform.title} service; generated from the model.",
        "tags": [model.platform.name, "golden-signals", "generated"],
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "timezone": "utc",
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboard_file(model: NetShopModel) -> str:
    return f"{model.platform.name}-golden-signals.json"


def grafana(model: NetShopModel) -> list[dict]:
    ns = model.platform.telemetry.scraper_namespace
    lab = _obs_labels(model, "grafana")
    return [
        k8s(
            "v1", "ConfigMap", f"{model.platform.name}-grafana-datasources", ns, labels={**lab, "grafana_datasource": "1"},
            data={"datasources.yaml": to_yaml(datasources(model))},
        ),
        k8s(
            "v1", "ConfigMap", f"{model.platform.name}-grafana-dashboards", ns, labels={**lab, "grafana_dashboard": "1"},
            data={dashboard_file(model): json.dumps(dashboard(model), indent=1, sort_keys=False) + "\n"},
        ),
    ]


# --------------------------------------------------------------------------- local Prometheus


def local_prometheus(model: NetShopModel) -> dict:
    """What `make up` runs: every service scraped on 127.0.0.1 at its model port, with the same rules."""
    return {
        "global": {"scrape_interval": "5s", "evaluation_interval": "15s", "external_labels": {"platform": model.platform.name, "runtime": "local"}},
        "rule_files": [f"../rules/{rules_file(model)}"],
        "scrape_configs": [
            {
                "job_name": model.platform.name,
                "honor_labels": True,
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{svc.port}"], "labels": {"service": svc.name, "tier": svc.tier}}
                    for svc in model.services
                ],
            }
        ],
    }


# --------------------------------------------------------------------------- family entry point


def generate(model: NetShopModel) -> Iterator[Artifact]:
    base = "observability"
    yield Artifact(f"{base}/namespace.yaml", yaml_stream(observability_namespace(model), __name__))
    yield Artifact(f"{base}/otel-collector.yaml", yaml_stream(collector(model), __name__))
    yield Artifact(f"{base}/jaeger.yaml", yaml_stream([jaeger(model)], __name__))
    yield Artifact(f"{base}/loki.yaml", yaml_stream(logs(model), __name__))
    yield Artifact(f"{base}/servicemonitors.yaml", yaml_stream(service_monitors(model), __name__))
    yield Artifact(f"{base}/prometheusrule.yaml", yaml_stream([prometheus_rule(model)], __name__))
    yield Artifact(f"{base}/grafana.yaml", yaml_stream(grafana(model), __name__))
    yield Artifact(f"{base}/rules/{rules_file(model)}", yaml_file({"groups": rule_groups(model)}, __name__))
    yield Artifact(f"{base}/dashboards/{dashboard_file(model)}", json_file(dashboard(model), __name__))
    yield Artifact(f"{base}/local/prometheus.yml", yaml_file(local_prometheus(model), __name__))
    for sev in SEVERITIES:
        tests = slo_tests(model, sev)
        if tests["tests"]:
            yield Artifact(f"{base}/tests/{sev.name}.yaml", yaml_file(tests, __name__))
