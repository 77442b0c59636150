"""The rendered manifests: valid Kubernetes 1.30 in strict mode, and shaped by the model.

Every expectation is derived from the model (NetShop, and the mini fixture); golden files pin the
exact bytes for the mini model. `UPDATE_GOLDEN=1 pytest tests/test_manifests.py` refreshes them.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from conftest import REPO
from model.schema import NetShopModel
from netshop.pipeline import render

KUBE_VERSION = "1.30.0"
MANIFESTS = REPO / "generated" / "k8s" / "netshop.yaml"
POLICIES = REPO / "generated" / "k8s" / "networkpolicies.yaml"
GOLDEN = Path(__file__).resolve().parent / "golden" / "mini"
GOLDEN_FAMILIES = ["manifests", "policies"]
APP_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component", "app.kubernetes.io/part-of")
ZONE_KEY, HOST_KEY = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|CREDENTIAL", re.I)


def load(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


class Rendered:
    """The objects of one model's manifest file, indexed for the checks."""

    def __init__(self, model: NetShopModel, docs: list[dict]):
        self.model = model
        self.docs = docs
        self.ns = model.platform.namespace

    def kind(self, kind: str) -> dict[str, dict]:
        found = [d for d in self.docs if d["kind"] == kind]
        names = [d["metadata"]["name"] for d in found]
        assert len(names) == len(set(names)), f"duplicate {kind}: {names}"
        return {d["metadata"]["name"]: d for d in found}

    @property
    def workloads(self) -> dict[str, dict]:
        return {**self.kind("Deployment"), **self.kind("StatefulSet")}

    def pod_spec(self, name: str) -> dict:
        return self.workloads[name]["spec"]["template"]["spec"]

    def pod_labels(self, name: str) -> dict:
        return self.workloads[name]["spec"]["template"]["metadata"]["labels"]


@pytest.fixture(scope="module", params=["netshop", "mini"])
def rendered(request) -> Rendered:
    """NetShop from the committed file (the drift gate ties it to the model); mini rendered fresh."""
    model = request.getfixturevalue(request.param)
    if request.param == "netshop":
        return Rendered(model, load(MANIFESTS.read_text()))
    return Rendered(model, load(render(model, only=["manifests"])["k8s/netshop.yaml"].decode()))


def selected(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"unexpected selector form {selector}"
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


_UNITS = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def qty(text: str | int) -> float:
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text))
    assert m and m.group(2) in _UNITS, f"not a quantity: {text}"
    return float(m.group(1)) * _UNITS[m.group(2)]


# --------------------------------------------------------------------------- schema validation


def test_every_object_validates_strictly_against_kubernetes_1_30(rendered):
    errors = []
    for doc in rendered.docs:
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {str(exc).splitlines()[0]}")
    assert not errors, "\n".join(errors)


def test_every_policy_of_the_policy_file_validates_strictly():
    for doc in load(POLICIES.read_text()):
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field(rendered):
    """The validation above can fail: a misspelt field in a pod template is caught."""
    deployment = copy.deepcopy(next(iter(rendered.kind("Deployment").values())))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_objects_start_with_apiversion_kind_metadata_and_live_in_the_namespace(rendered):
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for doc in rendered.docs:
        assert list(doc)[:3] == ["apiVersion", "kind", "metadata"]
        assert doc["metadata"].get("namespace") == (None if doc["kind"] in cluster_scoped else rendered.ns)


# --------------------------------------------------------------------------- namespace and governance


def test_namespace_enforces_the_restricted_pod_security_standard(rendered):
    labels = rendered.kind("Namespace")[rendered.ns]["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_a_service_account_per_workload_with_a_token_only_for_kube_readers(rendered):
    m = rendered.model
    accounts = rendered.kind("ServiceAccount")
    assert set(accounts) == set(m.workload_names)
    for name in m.workload_names:
        svc = m.service_by_name.get(name)
        reads_api = bool(svc and svc.kube_access)
        assert accounts[name]["automountServiceAccountToken"] is reads_api, name
        pod = rendered.pod_spec(name)
        assert pod["serviceAccountName"] == name
        assert pod["automountServiceAccountToken"] is reads_api, name


def _granted(rendered: Rendered) -> dict[str, set]:
    """ServiceAccount -> {(namespaced?, apiGroup, resource, verb)} from every binding to it."""
    roles = {("Role", n): r for n, r in rendered.kind("Role").items()} | {("ClusterRole", n): r for n, r in rendered.kind("ClusterRole").items()}
    grants: dict[str, set] = {}
    for binding in [*rendered.kind("RoleBinding").values(), *rendered.kind("ClusterRoleBinding").values()]:
        ref = binding["roleRef"]
        role = roles[(ref["kind"], ref["name"])]
        assert (binding["kind"] == "RoleBinding") == (ref["kind"] == "Role"), "namespaced grants use a Role"
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount" and subject["namespace"] == rendered.ns
            for rule in role["rules"]:
                grants.setdefault(subject["name"], set()).update(
                    (ref["kind"] == "Role", g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
                )
    return grants


def test_rbac_grants_exactly_the_models_kube_access(rendered):
    want = {
        s.name: {(not a.cluster_scoped, a.api_group, r, v) for a in s.kube_access for r in a.resources for v in a.verbs}
        for s in rendered.model.services
        if s.kube_access
    }
    assert want, "the model should exercise RBAC"
    assert _granted(rendered) == want


def test_no_rbac_rule_uses_a_wildcard(rendered):
    for role in [*rendered.kind("Role").values(), *rendered.kind("ClusterRole").values()]:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], role["metadata"]["name"]


def test_resource_quota_admits_every_workload_at_its_maximum_scale(rendered):
    m = rendered.model
    (quota,) = rendered.kind("ResourceQuota").values()
    hard = quota["spec"]["hard"]
    pods = sum(s.scaling.max for s in m.services) + len(m.datastores)
    assert int(hard["pods"]) >= pods
    for field in ("cpu_request", "memory_request", "cpu_limit", "memory_limit"):
        kind, what = field.split("_")
        key = f"{'requests' if what == 'request' else 'limits'}.{kind}"
        need = sum(qty(getattr(m.resources_of(s), field)) * s.scaling.max for s in m.services)
        need += sum(qty(getattr(d.resources, field)) for d in m.datastores)
        assert qty(hard[key]) >= need, key
    assert int(hard["persistentvolumeclaims"]) >= len(m.datastores)


def test_limit_range_defaults_to_the_platform_resources_and_caps_containers(rendered):
    m = rendered.model
    (lr,) = rendered.kind("LimitRange").values()
    (container,) = [x for x in lr["spec"]["limits"] if x["type"] == "Container"]
    d = m.platform.default_resources
    assert container["default"] == {"cpu": d.cpu_limit, "memory": d.memory_limit}
    assert container["defaultRequest"] == {"cpu": d.cpu_request, "memory": d.memory_request}
    for name in rendered.workloads:
        for c in rendered.pod_spec(name)["containers"]:
            for res in ("cpu", "memory"):
                assert qty(c["resources"]["limits"][res]) <= qty(container["max"][res]), f"{name} {res}"


def test_configmap_carries_the_model_for_the_services(rendered):
    maps = rendered.kind("ConfigMap")
    carried = [json.loads(v) for cm in maps.values() for v in (cm.get("data") or {}).values() if v.lstrip().startswith("{")]
    assert any(NetShopModel.model_validate(c) == rendered.model for c in carried)
    for name, svc in rendered.model.service_by_name.items():
        volumes = rendered.pod_spec(name)["volumes"]
        assert any(v.get("configMap", {}).get("name") in maps for v in volumes), name


def test_no_secret_value_anywhere_only_secret_references(rendered):
    p = rendered.model.platform
    assert "Secret" not in {d["kind"] for d in rendered.docs}
    refs = set()
    for name in rendered.workloads:
        for c in rendered.pod_spec(name)["containers"]:
            for env in c.get("env", []):
                if SECRETISH.search(env["name"]):
                    assert "value" not in env, f"{name}: {env['name']} has a literal value"
                    refs.add(env["valueFrom"]["secretKeyRef"]["name"])
                value = env.get("value", "")
                assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), f"{name}: credentials in {env['name']}"
            assert "envFrom" not in c
    assert refs <= {p.jwt_secret, p.datastore_secret}
    jwt_users = {s.name for s in rendered.model.services if "jwt" in s.secrets}
    for name in rendered.workloads:
        names = {e["name"]: e for c in rendered.pod_spec(name)["containers"] for e in c.get("env", [])}
        uses_jwt = any(e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == p.jwt_secret for e in names.values())
        assert uses_jwt == (name in jwt_users), name


# --------------------------------------------------------------------------- pods


def test_every_pod_is_non_root_read_only_without_capabilities_and_seccomp_confined(rendered):
    for name in rendered.workloads:
        pod = rendered.pod_spec(name)
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc.get("runAsUser", 1) != 0, name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), name
        for c in pod.get("initContainers", []) + pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert not sc.get("privileged"), name


def test_every_container_has_probes_and_the_models_requests_and_limits(rendered):
    m = rendered.model
    for name in rendered.workloads:
        expected = m.resources_of(m.service_by_name[name]) if name in m.service_by_name else m.datastore_by_name[name].resources
        for c in rendered.pod_spec(name)["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in c, f"{name} lacks {probe}"
            res = c["resources"]
            assert res["requests"] == {"cpu": expected.cpu_request, "memory": expected.memory_request}, name
            assert res["limits"] == {"cpu": expected.cpu_limit, "memory": expected.memory_limit}, name
            for r in ("cpu", "memory"):
                assert qty(res["requests"][r]) <= qty(res["limits"][r]), f"{name} {r}"


def test_images_are_pinned(rendered):
    for name in rendered.workloads:
        for c in rendered.pod_spec(name)["containers"]:
            tag = c["image"].rsplit(":", 1)
            assert len(tag) == 2 and tag[1] not in {"latest", ""}, f"{name}: {c['image']}"


def test_pods_spread_over_zones_and_hosts_with_anti_affinity(rendered):
    m = rendered.model
    for name in rendered.workloads:
        pod, labels = rendered.pod_spec(name), rendered.pod_labels(name)
        spread = {t["topologyKey"]: t for t in pod["topologySpreadConstraints"]}
        assert set(spread) == {ZONE_KEY, HOST_KEY}, name
        for t in spread.values():
            assert selected(t["labelSelector"], labels), name
        if name in m.service_by_name:
            zs = m.service_by_name[name].zone_spread
            assert (spread[ZONE_KEY]["maxSkew"], spread[ZONE_KEY]["whenUnsatisfiable"]) == (zs.max_skew, zs.when_unsatisfiable)
        anti = pod["affinity"]["podAntiAffinity"]
        terms = [t.get("podAffinityTerm", t) for v in anti.values() for t in v]
        assert any(t["topologyKey"] == HOST_KEY and selected(t["labelSelector"], labels) for t in terms), name
        zones = [e for term in pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] for e in term["matchExpressions"]]
        assert {"key": ZONE_KEY, "operator": "In", "values": [z.name for z in m.platform.zones]} in zones


def test_workloads_select_only_their_own_pods(rendered):
    for name, w in rendered.workloads.items():
        assert selected(w["spec"]["selector"], rendered.pod_labels(name))
        others = [o for o in rendered.workloads if o != name and selected(w["spec"]["selector"], rendered.pod_labels(o))]
        assert not others, f"{name} also selects {others}"


def test_every_workload_has_a_service_on_its_model_port(rendered):
    m = rendered.model
    services = rendered.kind("Service")
    assert set(services) == set(m.workload_names)
    for name, svc in services.items():
        (port,) = svc["spec"]["ports"]
        assert port["port"] == m.port_of(name)
        pods = [w for w in rendered.workloads if selected({"matchLabels": svc["spec"]["selector"]}, rendered.pod_labels(w))]
        assert pods == [name]
        container_ports = {p["containerPort"] for c in rendered.pod_spec(name)["containers"] for p in c["ports"]}
        assert port["targetPort"] in container_ports or port["targetPort"] in {
            p["name"] for c in rendered.pod_spec(name)["containers"] for p in c["ports"]
        }


def test_deployments_start_at_the_models_minimum(rendered):
    for s in rendered.model.services:
        assert rendered.kind("Deployment")[s.name]["spec"]["replicas"] == s.scaling.min


# --------------------------------------------------------------------------- scaling and disruption


def test_an_hpa_v2_per_service_with_distinct_scale_up_and_scale_down(rendered):
    m = rendered.model
    hpas = rendered.kind("HorizontalPodAutoscaler")
    assert set(hpas) == {s.name for s in m.services}, "every edge, app and worker service scales; datastores do not"
    assert {s.tier for s in m.services} >= {"app", "worker"}
    for s in m.services:
        h = hpas[s.name]
        assert h["apiVersion"] == "autoscaling/v2"
        spec = h["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": s.name}
        assert (spec["minReplicas"], spec["maxReplicas"]) == (s.scaling.min, s.scaling.max)
        targets = {x["resource"]["name"]: x["resource"]["target"]["averageUtilization"] for x in spec["metrics"]}
        want = {"cpu": s.scaling.cpu_utilization} | ({"memory": s.scaling.memory_utilization} if s.scaling.memory_utilization else {})
        assert targets == want, s.name
        up, down = spec["behavior"]["scaleUp"], spec["behavior"]["scaleDown"]
        assert up["stabilizationWindowSeconds"] == s.scaling.scale_up_window_seconds
        assert down["stabilizationWindowSeconds"] == s.scaling.scale_down_window_seconds
        assert up != down and up["policies"] and down["policies"], s.name


def test_a_pdb_for_every_workload_that_runs_more_than_one_replica(rendered):
    m = rendered.model
    pdbs = rendered.kind("PodDisruptionBudget")
    multi = {s.name for s in m.services if s.scaling.min > 1}
    assert set(pdbs) == multi
    for name, pdb in pdbs.items():
        spec = pdb["spec"]
        assert selected(spec["selector"], rendered.pod_labels(name))
        replicas = m.service_by_name[name].scaling.min
        # a drain must be able to evict one pod at a time
        allows = spec["maxUnavailable"] >= 1 if "maxUnavailable" in spec else spec["minAvailable"] < replicas
        assert allows, name


# --------------------------------------------------------------------------- edge and labels


def test_the_ingress_routes_only_to_the_ingress_service(rendered):
    ing_model = rendered.model.platform.ingress
    (ingress,) = rendered.kind("Ingress").values()
    spec = ingress["spec"]
    assert spec["ingressClassName"] == ing_model.class_name
    assert spec["tls"] == [{"hosts": [ing_model.host], "secretName": ing_model.tls_secret}]
    assert "defaultBackend" not in spec
    backends = [p["backend"]["service"] for rule in spec["rules"] for p in rule["http"]["paths"]]
    assert backends and all(b["name"] == ing_model.service for b in backends)
    svc_ports = rendered.kind("Service")[ing_model.service]["spec"]["ports"]
    for b in backends:
        assert any(b["port"] in ({"name": p["name"]}, {"number": p["port"]}) for p in svc_ports)
    assert {r["host"] for r in spec["rules"]} == {ing_model.host}


def test_app_kubernetes_io_labels_on_everything(rendered):
    p = rendered.model.platform
    for doc in rendered.docs:
        labels = doc["metadata"].get("labels", {})
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert labels.get("app.kubernetes.io/part-of") == p.name, where
        assert labels.get("app.kubernetes.io/instance") == p.name, where
        assert labels.get("app.kubernetes.io/version") == p.version, where
    for name, w in rendered.workloads.items():
        for labels in (w["metadata"]["labels"], rendered.pod_labels(name)):
            assert all(k in labels for k in APP_LABELS), name
            assert labels["app.kubernetes.io/name"] == name
            tier = rendered.model.service_by_name[name].tier if name in rendered.model.service_by_name else "data"
            assert labels["app.kubernetes.io/component"] == tier


# --------------------------------------------------------------------------- golden files (mini)


def golden_files(mini: NetShopModel) -> dict[str, bytes]:
    return render(mini, only=GOLDEN_FAMILIES)


def test_mini_manifests_and_policies_match_the_golden_files(mini):
    produced = golden_files(mini)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        for old in GOLDEN.rglob("*"):
            if old.is_file() and old.relative_to(GOLDEN).as_posix() not in produced:
                old.unlink()
        for path, content in produced.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_bytes(content)
    on_disk = {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in sorted(GOLDEN.rglob("*")) if p.is_file()}
    assert sorted(on_disk) == sorted(produced), "golden file set differs; refresh with UPDATE_GOLDEN=1 and review the diff"
    for path in produced:
        assert on_disk[path] == produced[path], f"{path} differs from tests/golden/mini/{path}; refresh with UPDATE_GOLDEN=1 and review the diff"


def test_golden_files_cover_manifests_and_policies(mini):
    assert {"k8s/netshop.yaml", "k8s/networkpolicies.yaml"} <= set(golden_files(mini))
