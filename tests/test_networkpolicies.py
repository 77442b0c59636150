"""The rendered NetworkPolicies allow exactly the model's connections: nothing more, nothing less.

Two analyses judge the rendered YAML, and neither reuses the generators' code:
- network-config-analyzer (`nca`, from its own venv), the third-party connectivity analyser;
- tests/netpol_eval.py, an evaluator written from the Kubernetes NetworkPolicy reference.

Both run against the same simulated cluster: the rendered workloads, the peers the model names
outside the namespace (cluster DNS, ingress controller, OTLP collector, Prometheus), a bystander in
each of those namespaces, an impostor elsewhere for every peer and every platform workload (same
labels, wrong namespace), and an unmodelled intruder pod inside the platform namespace.
The expected connectivity is derived from the model alone.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from conftest import REPO, build, with_new_service
from generators.base import yaml_stream
from generators.k8s import objects
from model.schema import NetShopModel
from netpol_eval import Cluster, Connectivity, Ports, ip_key, ip_range, normalize

NCA = REPO / ".venv-nca" / "bin" / "nca"
MANIFESTS = REPO / "generated" / "k8s" / "netshop.yaml"
POLICY_FILE = REPO / "generated" / "k8s" / "networkpolicies.yaml"
ZOO = Path(__file__).resolve().parent / "fixtures" / "netpol-zoo.yaml"

# names of the simulated cluster's pods outside the model (the model names their labels, not their pods)
DNS_POD, CONTROLLER_POD, SCRAPER_POD, BYSTANDER, INTRUDER = "kube-dns", "ingress-controller", "prometheus", "bystander", "intruder"
ELSEWHERE = "elsewhere"

# --------------------------------------------------------------------------- the simulated cluster


def _namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}


def _workload(namespace: str, name: str, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [{"name": "main", "image": "example.org/peer:1"}]}},
        },
    }


def peers(model: NetShopModel) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Role -> (namespace, pod name, labels) of every peer outside the platform namespace the model names."""
    p = model.platform
    out = {
        "dns": (p.dns.namespace, DNS_POD, dict(p.dns.labels)),
        "collector": (p.telemetry.collector_namespace, p.telemetry.collector_service, dict(p.telemetry.collector_labels)),
        "scraper": (p.telemetry.scraper_namespace, SCRAPER_POD, dict(p.telemetry.scraper_labels)),
    }
    if p.ingress.source.namespace:
        out["ingress"] = (p.ingress.source.namespace, CONTROLLER_POD, dict(p.ingress.source.labels))
    return out


def pod_labels(rendered: list[dict]) -> dict[str, dict[str, str]]:
    """Workload name -> pod template labels, read from the rendered manifests."""
    return {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in rendered
        if o.get("kind") in {"Deployment", "StatefulSet"}
    }


def surroundings(model: NetShopModel, rendered: list[dict]) -> list[dict]:
    """Everything around the platform's workloads: peers, bystanders, impostors and an intruder."""
    found = peers(model)
    namespaces = sorted({ns for ns, _, _ in found.values()} | {ELSEWHERE})
    objs = [_namespace(ns) for ns in namespaces]
    objs += [_workload(ns, name, labels) for ns, name, labels in found.values()]
    objs += [_workload(ns, BYSTANDER, {"app": BYSTANDER}) for ns in namespaces if ns != ELSEWHERE]
    objs += [_workload(ELSEWHERE, f"impostor-{role}", labels) for role, (_, _, labels) in sorted(found.items())]
    objs += [_workload(ELSEWHERE, f"impostor-{name}", labels) for name, labels in sorted(pod_labels(rendered).items())]
    objs.append(_workload(model.platform.namespace, INTRUDER, {"app": INTRUDER}))
    return objs


# --------------------------------------------------------------------------- what the model allows


def expected(model: NetShopModel) -> Connectivity:
    """The connectivity the model declares, in the analyses' terms."""
    p, ns = model.platform, model.platform.namespace
    at = lambda name: f"{ns}/{name}"  # noqa: E731
    peer = {role: f"{pns}/{name}" for role, (pns, name, _) in peers(model).items()}
    conn: Connectivity = {}

    def allow(src: str, dst: str, ports: Ports) -> None:
        conn[(src, dst)] = conn.get((src, dst), Ports()) | ports

    for edge in model.edges:
        allow(at(edge.source), at(edge.target), Ports.single("TCP", edge.port))
    web = model.service_by_name[p.ingress.service]
    if "ingress" in peer:
        allow(peer["ingress"], at(web.name), Ports.single("TCP", web.port))
    for cidr in p.ingress.source.cidrs:
        allow(ip_key(*ip_range(cidr)), at(web.name), Ports.single("TCP", web.port))
    for workload in [*model.workload_names, INTRUDER]:
        allow(at(workload), peer["dns"], Ports.single("TCP", p.dns.port) | Ports.single("UDP", p.dns.port))
    for svc in model.services:
        allow(at(svc.name), peer["collector"], Ports.single("TCP", p.telemetry.otlp_grpc_port, p.telemetry.otlp_http_port))
        allow(peer["scraper"], at(svc.name), Ports.single("TCP", svc.port))
        if svc.kube_access:
            allow(at(svc.name), ip_key(*ip_range(p.kubernetes_api.cidr)), Ports.single("TCP", *p.kubernetes_api.ports))
    return normalize(conn)


def explain(got: Connectivity, want: Connectivity) -> str:
    extra = [f"  + {s} => {d}: {got[(s, d)] - want.get((s, d), Ports())}" for s, d in got if got[(s, d)] - want.get((s, d), Ports())]
    lost = [f"  - {s} => {d}: {want[(s, d)] - got.get((s, d), Ports())}" for s, d in want if want[(s, d)] - got.get((s, d), Ports())]
    return "\n".join(["allowed but not in the model:", *extra, "in the model but denied:", *lost])


# --------------------------------------------------------------------------- network-config-analyzer


LINE = re.compile(r"^(\S+) => (\S+) : (.+)$")
CUBE = re.compile(r"\{protocols:([A-Z0-9, -]+?)(?:,dst_ports:([0-9,\-]+))?\}")


def parse_nca_ports(text: str) -> Ports:
    """`All connections`, `{protocols:TCP, UDP,dst_ports:53}`, `{...},{...}` or `All but {...}`."""
    if text == "All connections":
        return Ports.all()
    if text.startswith("All but "):
        return Ports.all() - parse_nca_ports(text[len("All but "):])
    cubes = CUBE.findall(text)
    if not cubes or CUBE.sub("", text).strip(","):
        raise AssertionError(f"unrecognised nca connection set: {text!r}")
    items = []
    for protocols, ports in cubes:
        spans = [tuple(int(x) for x in part.split("-")) for part in ports.split(",")] if ports else [(1, 65535)]
        for proto in (x.strip() for x in protocols.split(",")):
            items += [(proto, span[0], span[-1]) for span in spans]
    return Ports.of(items)


def _endpoints(text: str) -> list[str]:
    if "/" in text and "[" in text:
        return [text.split("[", 1)[0]]
    return [ip_key(*ip_range(part)) for part in text.split(",")]


def nca(mode: str, policies: Path, resources: list[Path], *extra: str) -> subprocess.CompletedProcess:
    assert NCA.exists(), f"{NCA} is missing: `make setup` builds network-config-analyzer's venv"
    args = [str(NCA), f"--{mode}", str(policies)]
    for r in resources:
        args += ["--resource_list", str(r)]
    return subprocess.run([*args, *extra], capture_output=True, text=True, timeout=600)


def nca_connectivity(policies: Path, resources: list[Path], namespace: str | None = None) -> Connectivity:
    """nca's connectivity map, restricted to connections that touch `namespace` (default: all)."""
    run = nca("connectivity", policies, resources, "-o", "txt_no_fw_rules")
    assert run.returncode == 0, run.stdout + run.stderr
    conn: Connectivity = {}
    for line in run.stdout.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        src, dst, ports = m.groups()
        if namespace and not (src.startswith(f"{namespace}/") or dst.startswith(f"{namespace}/")):
            continue
        for s in _endpoints(src):
            for d in _endpoints(dst):
                conn[(s, d)] = conn.get((s, d), Ports()) | parse_nca_ports(ports)
    assert conn, f"nca printed no connection of {namespace}:\n{run.stdout}\n{run.stderr}"
    return normalize(conn)


def nca_sanity_findings(policies: Path, resources: list[Path]) -> list[str]:
    run = nca("sanity", policies, resources)
    text = run.stdout + run.stderr
    assert "sanity check" in text, text
    findings = [line.strip() for line in text.splitlines() if line.startswith(("NetworkPolicy ", "Policy ")) or "redundant" in line or "contradict" in line]
    assert (run.returncode == 0) == (not findings), text
    return findings


# --------------------------------------------------------------------------- scenarios


class Scenario:
    """Rendered manifests of one model plus its surroundings, written where nca can read them."""

    def __init__(self, model: NetShopModel, manifests: Path, tmp: Path, intruder: bool = True):
        self.model = model
        self.manifests = manifests
        self.rendered = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
        around = surroundings(model, self.rendered)
        if not intruder:
            around = [o for o in around if o["metadata"]["name"] != INTRUDER]
        self.surroundings = tmp / "surroundings.yaml"
        self.surroundings.write_text(yaml.safe_dump_all(around, sort_keys=False))

    @classmethod
    def render(cls, model: NetShopModel, tmp: Path, **kw) -> Scenario:
        path = tmp / "netshop.yaml"
        path.write_text(yaml_stream(objects(model), "tests.render"))
        return cls(model, path, tmp, **kw)

    @property
    def resources(self) -> list[Path]:
        return [self.manifests, self.surroundings]

    @cache
    def nca(self) -> Connectivity:
        return nca_connectivity(self.manifests, self.resources, self.model.platform.namespace)

    @cache
    def evaluator(self) -> Connectivity:
        cluster = Cluster.from_yaml(self.manifests.read_text(), self.surroundings.read_text())
        return cluster.connectivity({self.model.platform.namespace})

    def sync_and_data(self, conn: Connectivity) -> set[tuple[str, str, int]]:
        """(source, target, port) of connections between two modelled workloads of the namespace."""
        ns = self.model.platform.namespace
        names = set(self.model.workload_names)
        return {
            (s.split("/")[1], d.split("/")[1], lo)
            for (s, d), ports in conn.items()
            if s.startswith(f"{ns}/") and d.startswith(f"{ns}/") and s.split("/")[1] in names and d.split("/")[1] in names
            for _, lo, hi in ports.ranges
            for lo in range(lo, hi + 1)
        }


def model_edges(model: NetShopModel) -> set[tuple[str, str, int]]:
    return {(e.source, e.target, e.port) for e in model.edges}


@pytest.fixture(scope="module")
def netshop_scenario(netshop, tmp_path_factory) -> Scenario:
    return Scenario(netshop, MANIFESTS, tmp_path_factory.mktemp("netshop"))


@pytest.fixture(scope="module")
def mini_scenario(mini, tmp_path_factory) -> Scenario:
    return Scenario.render(mini, tmp_path_factory.mktemp("mini"))


@pytest.fixture(params=["nca", "evaluator"])
def analysis(request) -> str:
    return request.param


# --------------------------------------------------------------------------- the NetShop and mini models


@pytest.mark.parametrize("scenario", ["netshop_scenario", "mini_scenario"])
def test_policies_allow_exactly_the_model_connections(scenario, analysis, request):
    sc: Scenario = request.getfixturevalue(scenario)
    got = getattr(sc, analysis)()
    want = expected(sc.model)
    assert got == want, explain(got, want)


@pytest.mark.parametrize("scenario", ["netshop_scenario", "mini_scenario"])
def test_in_namespace_connections_are_the_model_edges(scenario, analysis, request):
    sc: Scenario = request.getfixturevalue(scenario)
    assert sc.sync_and_data(getattr(sc, analysis)()) == model_edges(sc.model)


def test_nca_and_the_evaluator_agree_on_every_connection_of_the_namespace(netshop_scenario):
    assert netshop_scenario.nca() == netshop_scenario.evaluator()


def test_ingress_controller_reaches_only_the_ingress_service_on_its_port(netshop_scenario, analysis):
    model = netshop_scenario.model
    controller = "/".join(peers(model)["ingress"][:2])
    web = model.service_by_name[model.platform.ingress.service]
    reached = {d: ports for (s, d), ports in getattr(netshop_scenario, analysis)().items() if s == controller}
    assert reached == {f"{model.platform.namespace}/{web.name}": Ports.single("TCP", web.port)}


def test_dns_egress_reaches_only_cluster_dns(netshop_scenario, analysis):
    model = netshop_scenario.model
    dns = model.platform.dns
    on_dns_port = {
        d for (s, d), ports in getattr(netshop_scenario, analysis)().items()
        if s.startswith(f"{model.platform.namespace}/") and ports & (Ports.single("UDP", dns.port) | Ports.single("TCP", dns.port))
    }
    assert on_dns_port == {f"{dns.namespace}/{DNS_POD}"}


def test_an_unmodelled_pod_in_the_namespace_gets_dns_and_nothing_else(netshop_scenario, analysis):
    model, ns = netshop_scenario.model, netshop_scenario.model.platform.namespace
    touching = {k: v for k, v in getattr(netshop_scenario, analysis)().items() if f"{ns}/{INTRUDER}" in k}
    dns = model.platform.dns
    assert touching == {(f"{ns}/{INTRUDER}", f"{dns.namespace}/{DNS_POD}"): Ports.single("TCP", dns.port) | Ports.single("UDP", dns.port)}


def test_the_policy_file_holds_the_manifests_policies(netshop_scenario):
    in_manifests = [o for o in netshop_scenario.rendered if o["kind"] == "NetworkPolicy"]
    in_file = [d for d in yaml.safe_load_all(POLICY_FILE.read_text()) if d]
    assert in_file == in_manifests


def test_every_model_edge_has_its_egress_and_ingress_policy(netshop_scenario):
    names = {o["metadata"]["name"] for o in netshop_scenario.rendered if o["kind"] == "NetworkPolicy"}
    for edge in netshop_scenario.model.edges:
        assert {f"allow-{edge.source}-to-{edge.target}-egress", f"allow-{edge.source}-to-{edge.target}-ingress"} <= names


# --------------------------------------------------------------------------- the evaluator itself


def test_the_evaluator_agrees_with_nca_on_semantics_the_generators_do_not_use():
    """matchExpressions, combined selectors, ipBlock with except, named ports, endPort, SCTP, defaulted policyTypes."""
    got = Cluster.from_yaml(ZOO.read_text()).connectivity()
    assert got == nca_connectivity(ZOO, [ZOO])


@pytest.mark.parametrize(
    ("src", "dst", "ports"),
    [
        ("zoo/a", "zoo/b", Ports.of([("TCP", 8000, 8010), ("TCP", 9090, 9090)])),  # endPort; named port of b
        ("zoo/a", "zoo/d", Ports.of([("TCP", 8000, 8010), ("TCP", 9100, 9100)])),  # same rule, d's own named port
        ("blue/x", "zoo/b", Ports()),  # b admits x on UDP only, x may send TCP 8080 only: both sides must allow
        ("red/y", "zoo/b", Ports()),  # same labels as x, but its namespace fails the combined selector
        ("zoo/a", "zoo/c", Ports()),  # c has no `tier`, so a's `Exists` egress peer does not match
        ("red/y", "zoo/c", Ports.all()),  # policies union: c's empty ingress plus a whole-namespace allow
        ("zoo/b", "zoo/c", Ports()),  # c is isolated for ingress and b is not in red
        ("zoo/a", "ip:10.0.0.0-10.0.255.255", Ports.single("TCP", 443)),
        ("zoo/a", "ip:10.2.0.0-10.255.255.255", Ports.single("TCP", 443)),  # 10.1/16 is excepted
        ("ip:192.168.0.0-192.168.255.255", "blue/z", Ports.single("SCTP", 3868)),
        ("blue/x", "blue/z", Ports.single("TCP", 8080)),
    ],
)
def test_the_evaluator_follows_the_networkpolicy_reference(src, dst, ports):
    assert Cluster.from_yaml(ZOO.read_text()).connectivity().get((src, dst), Ports()) == ports


# --------------------------------------------------------------------------- model changes


def test_an_added_service_and_its_edges_appear_in_both_analyses(model_data, tmp_path, netshop):
    model = build(with_new_service(model_data))
    sc = Scenario.render(model, tmp_path)
    new = model_edges(model) - model_edges(netshop)
    assert new and all("wishlist" in (s, d) for s, d, _ in new)
    want = expected(model)
    for got in (sc.nca(), sc.evaluator()):
        assert got == want, explain(got, want)
        assert new <= sc.sync_and_data(got)


def test_a_removed_edge_disappears_from_both_analyses(model_data, tmp_path, netshop):
    dropped = model_data["sync_edges"].pop()
    model = build(model_data)
    gone = model_edges(netshop) - model_edges(model)
    assert gone == {(dropped["caller"], dropped["callee"], netshop.port_of(dropped["callee"]))}
    sc = Scenario.render(model, tmp_path)
    want = expected(model)
    for got in (sc.nca(), sc.evaluator()):
        assert got == want, explain(got, want)
        assert not gone & sc.sync_and_data(got)


def test_a_policy_the_model_does_not_declare_is_caught_by_both_analyses(netshop, tmp_path):
    """The comparison can fail: one extra allow rule, written by hand, breaks equality with the model."""
    rendered = objects(netshop)
    edge = netshop.edges[0]
    rogue = next(o for o in rendered if o["metadata"]["name"] == f"allow-{edge.source}-to-{edge.target}-ingress")
    rogue["spec"]["ingress"][0]["ports"].append({"protocol": "TCP", "port": 9999})
    egress = next(o for o in rendered if o["metadata"]["name"] == f"allow-{edge.source}-to-{edge.target}-egress")
    egress["spec"]["egress"][0]["ports"].append({"protocol": "TCP", "port": 9999})
    path = tmp_path / "netshop.yaml"
    path.write_text(yaml_stream(rendered, "tests.rogue"))
    sc = Scenario(netshop, path, tmp_path)
    for got in (sc.nca(), sc.evaluator()):
        assert (edge.source, edge.target, 9999) in sc.sync_and_data(got)
        assert got != expected(netshop)


def test_load_balancer_ranges_reach_only_the_ingress_service_when_a_cloud_sends_traffic_straight_to_pods(model_data, tmp_path):
    cloud = next(c for c in model_data["clouds"] if c["ingress_source"].get("cidrs"))
    model_data["platform"]["ingress"]["source"] = cloud["ingress_source"]
    model = build(model_data)
    sc = Scenario.render(model, tmp_path)
    want = expected(model)
    web = f"{model.platform.namespace}/{model.platform.ingress.service}"
    from_ranges = {k for k in want if k[0].startswith("ip:")}
    assert from_ranges and all(d == web for _, d in from_ranges)
    for got in (sc.nca(), sc.evaluator()):
        assert got == want, explain(got, want)


# --------------------------------------------------------------------------- nca --sanity


def test_mini_policies_have_no_sanity_findings_when_an_unmodelled_pod_exists(mini_scenario):
    assert nca_sanity_findings(mini_scenario.manifests, mini_scenario.resources) == []


def test_default_deny_is_the_only_sanity_finding_and_only_because_every_modelled_pod_is_covered(mini, tmp_path):
    """Every modelled pod is already selected by an allow policy in both directions, so nca calls the
    default deny redundant; it is the safety net for pods the model does not know (previous test)."""
    sc = Scenario.render(mini, tmp_path, intruder=False)
    findings = nca_sanity_findings(sc.manifests, sc.resources)
    assert len(findings) == 1 and f"{mini.platform.namespace}/default-deny is redundant" in findings[0], findings


@pytest.mark.slow
def test_netshop_policies_have_no_redundant_or_contradicting_rule_but_the_default_deny(netshop, tmp_path):
    sc = Scenario(netshop, MANIFESTS, tmp_path, intruder=False)
    findings = nca_sanity_findings(POLICY_FILE, sc.resources)
    assert len(findings) == 1 and f"{netshop.platform.namespace}/default-deny is redundant" in findings[0], findings
