"""Observability artifacts: schema-valid, SLO alerts proven with promtool, and everything follows the model."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import build, with_new_service
from crd_validation import load_docs as documents
from crd_validation import problems as schema_errors

from netshop.pipeline import render

REPO = Path(__file__).resolve().parent.parent
OBS = REPO / "generated" / "observability"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: run scripts/ensure-system.sh")

# The metrics the services' shared library exports (the contract stated in the issue).
CONTRACT = {
    "http_server_requests_total",
    "http_server_request_duration_seconds_bucket",
    "http_client_requests_total",
    "http_client_request_duration_seconds_bucket",
    "netshop_queue_depth",
    "netshop_events_consumed_total",
}
PROMQL_WORDS = {
    "sum", "by", "rate", "max", "histogram_quantile", "and", "or", "bool", "without", "on", "ignoring",
    "le", "service", "route", "status", "zone", "peer", "queue", "outcome", "method", "slo",
}
WORKBOOK = {  # (long, short, share of the budget the long window may spend), Google SRE workbook
    "page": [("1h", "5m", 0.02), ("6h", "30m", 0.05)],
    "ticket": [("1d", "2h", 0.10), ("3d", "6h", 0.10)],
}
HOURS = {"h": 1, "d": 24}


def rules(files: dict[str, bytes] | None = None, model=None) -> list[dict]:
    if files is None:
        return yaml.safe_load((OBS / "rules" / "netshop.rules.yaml").read_text())["groups"]
    return yaml.safe_load(files[f"observability/rules/{model.platform.name}.rules.yaml"])["groups"]


def dashboard(files: dict[str, bytes] | None = None, model=None) -> dict:
    if files is None:
        return json.loads((OBS / "dashboards" / "netshop-golden-signals.json").read_text())
    return json.loads(files[f"observability/dashboards/{model.platform.name}-golden-signals.json"])


def all_exprs(groups: list[dict], board: dict) -> list[str]:
    exprs = [r["expr"] for g in groups for r in g["rules"]]
    return exprs + [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values are not names
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    return {m for m in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if m not in PROMQL_WORDS and not m.startswith("__")}


# --------------------------------------------------------------------------- schema validity


@pytest.mark.parametrize(
    "name", ["namespace", "otel-collector", "jaeger", "loki", "servicemonitors", "prometheusrule", "grafana"]
)
def test_every_observability_object_validates_against_its_schema(name):
    objs = documents(OBS / f"{name}.yaml")
    assert objs
    errors = [err for obj in objs for err in schema_errors(obj)]
    assert not errors, "\n".join(errors)


def test_prometheusrule_carries_exactly_the_promtool_checked_rules():
    (rule,) = documents(OBS / "prometheusrule.yaml")
    assert rule["spec"]["groups"] == rules()


# --------------------------------------------------------------------------- promtool


@pytest.fixture(scope="module")
def promtool_runs():
    """Every generated promtool test file, run side by side (each evaluates days of series)."""
    files = sorted((OBS / "tests").glob("*.yaml"))
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        runs = pool.map(
            lambda f: subprocess.run([PROMTOOL, "test", "rules", f.name], cwd=f.parent, capture_output=True, text=True),
            files,
        )
        return dict(zip((f.name for f in files), runs, strict=True))


@needs_promtool
def test_promtool_accepts_the_rule_file():
    out = subprocess.run([PROMTOOL, "check", "rules", str(OBS / "rules" / "netshop.rules.yaml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
@pytest.mark.parametrize("severity", sorted(WORKBOOK))
def test_burn_rate_alerts_fire_and_stay_quiet_at_the_right_rates(promtool_runs, severity):
    run = promtool_runs[f"{severity}.yaml"]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_unit_tests_cover_every_window_pair_above_and_below_and_the_short_window_gate(netshop):
    assert sorted(p.stem for p in (OBS / "tests").glob("*.yaml")) == sorted(WORKBOOK)
    with_traffic = {s.name for s in netshop.services if s.routes or netshop.subscriptions_of(s.name)}
    with_routes = {s.name for s in netshop.services if s.routes}
    for severity in WORKBOOK:
        tests = yaml.safe_load((OBS / "tests" / f"{severity}.yaml").read_text())["tests"]
        names = [t["name"] for t in tests]
        for long, short, _ in WORKBOOK[severity]:
            assert any("fires" in n and f"{long}/{short}" in n for n in names), (severity, long)
            assert any("quiet" in n and f"{long}/{short}" in n for n in names), (severity, long)
        assert any("short windows recovered" in n for n in names)
        for t in tests:
            def services(metric: str) -> set[str]:
                return {re.search(r'service="([^"]+)"', s["series"]).group(1) for s in t["input_series"] if s["series"].startswith(metric)}

            assert services("http_server_requests_total") | services("netshop_events_consumed_total") == with_traffic, t["name"]
            assert services("http_server_request_duration_seconds_bucket") == with_routes, t["name"]
            fired = {(a["exp_labels"]["slo"], a["exp_labels"]["service"]) for c in t["alert_rule_test"] for a in c["exp_alerts"]}
            expected = {("availability", s) for s in with_traffic} | {("latency", s) for s in with_routes}
            assert fired == (expected if "fires" in t["name"] else set()), t["name"]


@needs_promtool
def test_promtool_tests_fail_when_the_alerts_are_wrong(tmp_path, mini):
    """The generated unit tests have teeth: rules with a lower burn rate or no short window fail them."""
    files = render(mini, only=["observability"])
    for path, content in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    tests = sorted((tmp_path / "observability" / "tests").glob("page.yaml"))
    rule_file = tmp_path / "observability" / "rules" / f"{mini.platform.name}.rules.yaml"

    def verdict() -> list[int]:
        return [subprocess.run([PROMTOOL, "test", "rules", t.name], cwd=t.parent, capture_output=True).returncode for t in tests]

    assert tests and verdict() == [0] * len(tests)
    original = rule_file.read_text()
    # every threshold 20% lower: the "stays quiet just below the burn rate" cases must fail
    rule_file.write_text(re.sub(r"> (0\.\d+)", lambda m: f"> {float(m.group(1)) * 0.8:.6g}", original))
    assert all(code != 0 for code in verdict())
    # short windows dropped: the "short windows recovered" case must fail
    groups = yaml.safe_load(original)
    for g in groups["groups"]:
        for r in g["rules"]:
            if "alert" in r:
                r["expr"] = re.sub(r"\n  and\n  slo:sli_error:ratio_rate\w+\{[^}]*\} > [0-9.e-]+", "", r["expr"])
    rule_file.write_text(yaml.safe_dump(groups))
    assert all(code != 0 for code in verdict())


# --------------------------------------------------------------------------- SLO rules follow the model


def test_every_service_with_traffic_has_workbook_burn_rate_alerts_from_its_slo(netshop):
    groups = {g["name"]: g["rules"] for g in rules()}
    for svc in netshop.services:
        kinds = ["availability", "latency"] if svc.routes else ["availability"] if netshop.subscriptions_of(svc.name) else []
        alerts = [r for r in groups.get(f"slo-{svc.name}", []) if "alert" in r]
        assert {(a["labels"]["slo"], a["labels"]["severity"]) for a in alerts} == {(k, s) for k in kinds for s in WORKBOOK}
        for a in alerts:
            target = svc.slo.availability if a["labels"]["slo"] == "availability" else svc.slo.latency_target
            budget = 1 - target / 100
            for long, short, share in WORKBOOK[a["labels"]["severity"]]:
                factor = share * svc.slo.window_days * 24 / (int(long[:-1]) * HOURS[long[-1]])
                thresholds = {
                    float(v) for v in re.findall(rf"ratio_rate(?:{long}|{short})\{{[^}}]*\}} > ([0-9.e-]+)", a["expr"])
                }
                assert thresholds and all(abs(t - factor * budget) < 1e-9 for t in thresholds), (svc.name, a["alert"], long)


def test_latency_sli_reads_the_bucket_at_each_services_threshold(netshop):
    groups = {g["name"]: g["rules"] for g in rules()}
    for svc in (s for s in netshop.services if s.routes):
        latency = [r["expr"] for r in groups[f"slo-{svc.name}"] if r.get("labels", {}).get("slo") == "latency" and "record" in r]
        le = repr(svc.slo.latency_ms / 1000)
        assert latency and all(f'le="{le}"' in e or f'le=~"{le[:-2]}' in e for e in latency), svc.name


def test_rules_and_dashboard_use_only_the_services_metric_contract():
    groups, board = rules(), dashboard()
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    used = set().union(*(metric_names(e) for e in all_exprs(groups, board)))
    assert used - recorded == CONTRACT  # every contract metric is shown or alerted on, nothing else is assumed


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path):
    exprs = [t["expr"].replace("$__rate_interval", "5m") for p in dashboard()["panels"] for t in p.get("targets", [])]
    rule_file = tmp_path / "dashboard.rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)]}]}))
    out = subprocess.run([PROMTOOL, "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_has_golden_signals_for_every_service_and_queue(netshop):
    board = dashboard()
    titles = [p["title"] for p in board["panels"]]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for svc in netshop.services:
        for signal in ("rate", "errors", "p95 latency", "zone split"):
            assert any(t.startswith(f"{svc.name}: {signal}") for t in titles), (svc.name, signal)
        for _, sub in netshop.subscriptions_of(svc.name):
            assert any(sub.queue in t and "depth" in t for t in titles), sub.queue
    zone = [p for p in board["panels"] if p["title"].endswith("zone split")]
    assert all("by (zone)" in p["targets"][0]["expr"] for p in zone)


# --------------------------------------------------------------------------- collection path


def test_service_monitor_per_service_on_its_metrics_port(netshop):
    monitors = [o for o in documents(OBS / "servicemonitors.yaml") if o["metadata"]["namespace"] == netshop.platform.namespace]
    assert sorted(m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for m in monitors) == sorted(s.name for s in netshop.services)
    services = {o["metadata"]["name"]: o for o in documents(REPO / "generated" / "k8s" / "netshop.yaml") if o["kind"] == "Service"}
    for m in monitors:
        svc = services[m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]]
        assert m["spec"]["selector"]["matchLabels"].items() <= svc["spec"]["selector"].items()
        assert {p["name"] for p in svc["spec"]["ports"]} >= {e["port"] for e in m["spec"]["endpoints"]}
        assert all(e["path"] == "/metrics" for e in m["spec"]["endpoints"])


def test_collector_is_where_the_services_send_traces_and_feeds_jaeger_and_red_metrics(netshop):
    tel = netshop.platform.telemetry
    objs = documents(OBS / "otel-collector.yaml")
    (svc,) = [o for o in objs if o["kind"] == "Service"]
    assert (svc["metadata"]["name"], svc["metadata"]["namespace"]) == (tel.collector_service, tel.collector_namespace)
    assert {p["port"] for p in svc["spec"]["ports"]} >= {tel.otlp_grpc_port, tel.otlp_http_port}
    (deploy,) = [o for o in objs if o["kind"] == "Deployment"]
    assert tel.collector_labels.items() <= deploy["spec"]["template"]["metadata"]["labels"].items()
    # the services' OTLP endpoint (from the platform manifests) names this Service and port
    base = documents(REPO / "generated" / "k8s" / "netshop.yaml")
    endpoints = {
        e["value"] for o in base if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"] for e in c["env"] if e["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT"
    }
    assert endpoints == {f"http://{tel.collector_service}.{tel.collector_namespace}.svc.cluster.local:{tel.otlp_http_port}"}
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap"]
    config = yaml.safe_load(cm["data"]["config.yaml"])
    traces = config["service"]["pipelines"]["traces"]
    assert "otlp" in traces["receivers"] and "spanmetrics" in traces["exporters"]
    assert any("spanmetrics" in p["receivers"] for p in config["service"]["pipelines"].values())
    (jaeger,) = documents(OBS / "jaeger.yaml")
    jaeger_exporters = [e for e in traces["exporters"] if e.startswith("otlp/")]
    assert [config["exporters"][e]["endpoint"].split(".")[0] for e in jaeger_exporters] == [f"{jaeger['metadata']['name']}-collector"]
    buckets = config["connectors"]["spanmetrics"]["histogram"]["explicit"]["buckets"]
    assert {f"{s.slo.latency_ms}ms" for s in netshop.services} <= set(buckets)


def test_a_log_lines_trace_id_links_to_its_trace():
    objs = documents(OBS / "grafana.yaml")
    sources = yaml.safe_load(next(o for o in objs if "datasources.yaml" in o.get("data", {}))["data"]["datasources.yaml"])
    by_uid = {d["uid"]: d for d in sources["datasources"]}
    (field,) = by_uid["loki"]["jsonData"]["derivedFields"]
    assert by_uid[field["datasourceUid"]]["type"] == "jaeger"
    line = json.dumps({"level": "info", "service": "orders", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"})
    assert re.search(field["matcherRegex"], line).group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert by_uid["jaeger"]["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    promtail = yaml.safe_load(next(o for o in documents(OBS / "loki.yaml") if o["metadata"]["name"] == "promtail-config")["data"]["config.yaml"])
    stages = promtail["scrape_configs"][0]["pipeline_stages"]
    assert any("trace_id" in s.get("json", {}).get("expressions", {}) for s in stages)
    assert any("trace_id" in s.get("structured_metadata", {}) for s in stages)


# --------------------------------------------------------------------------- local Prometheus for `make up`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing: run scripts/ensure-system.sh")
def test_local_prometheus_scrapes_every_service_with_the_same_rules(tmp_path, netshop):
    config = OBS / "local" / "prometheus.yml"
    targets = {t for sc in yaml.safe_load(config.read_text())["scrape_configs"] for st in sc["static_configs"] for t in st["targets"]}
    assert targets == {f"127.0.0.1:{s.port}" for s in netshop.services}
    port = _free_port()
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        groups = None
        for _ in range(300):  # the scrape manager applies new targets every 5 s
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=1) as r:
                    groups = json.load(r)["data"]["groups"]
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=1) as r:
                    active = json.load(r)["data"]["activeTargets"]
                if groups and active:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        assert groups, proc.stderr.read1().decode() if proc.poll() is not None else "no rules loaded"
        assert {g["name"] for g in groups} == {g["name"] for g in rules()}
        assert {t["labels"]["service"] for t in active} == {s.name for s in netshop.services}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- model changes


def test_adding_a_service_adds_its_monitor_slo_rules_tests_and_panels(model_data):
    model = build(with_new_service(model_data))
    files = render(model, only=["observability"])
    monitors = [d for d in yaml.safe_load_all(files["observability/servicemonitors.yaml"]) if d]
    assert "wishlist" in {m["metadata"]["name"] for m in monitors}
    groups = {g["name"]: g for g in rules(files, model)}
    assert {r["alert"] for r in groups["slo-wishlist"]["rules"] if "alert" in r} == {
        "AvailabilityBudgetBurnFast", "AvailabilityBudgetBurnSlow", "LatencyBudgetBurnFast", "LatencyBudgetBurnSlow",
    }
    assert any(t.startswith("wishlist: ") for t in (p["title"] for p in dashboard(files, model)["panels"]))
    tests = yaml.safe_load(files["observability/tests/page.yaml"])["tests"]
    assert all(any('service="wishlist"' in s["series"] for s in t["input_series"]) for t in tests)
    assert "127.0.0.1:8110" in files["observability/local/prometheus.yml"].decode()
