"""The kustomize base and cloud overlays, built by the real `kubectl kustomize` and checked against the model."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import MINI_PATH, build, with_new_service

from generators import k8s
from k8s_build import differences, keyed, kustomize, strict_errors, write_families
from model.schema import Cloud, NetShopModel

ZONE_KEY = "topology.kubernetes.io/zone"
CLOUD_LABEL = "netshop.io/cloud"


def zone_values(obj: dict) -> list[str]:
    terms = obj["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (expr,) = [e for t in terms["nodeSelectorTerms"] for e in t["matchExpressions"] if e["key"] == ZONE_KEY]
    return expr["values"]


def expected_overlay(model: NetShopModel, cloud: Cloud) -> list[dict]:
    """What an overlay must build, derived from the model here (not from the generator's patches)."""
    ns = model.platform.namespace
    web = model.service_by_name[model.platform.ingress.service]
    src = cloud.ingress_source
    if src.namespace:
        peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": src.namespace}}, "podSelector": {"matchLabels": dict(src.labels)}}]
    else:
        peers = [{"ipBlock": {"cidr": c}} for c in src.cidrs]
    objs = keyed(copy.deepcopy(k8s.objects(model)))
    for svc in model.services:
        floor = model.min_replicas(svc, cloud)
        objs[("Deployment", ns, svc.name)]["spec"]["replicas"] = floor
        hpa = objs[("HorizontalPodAutoscaler", ns, svc.name)]["spec"]
        hpa["minReplicas"], hpa["maxReplicas"] = floor, max(floor, svc.scaling.max)
        pdb_key = ("PodDisruptionBudget", ns, svc.name)
        if floor > 1:
            objs.setdefault(pdb_key, k8s.pdb(model, svc))
        else:
            objs.pop(pdb_key, None)
    for (kind, _, _), obj in objs.items():
        obj["metadata"].setdefault("labels", {})[CLOUD_LABEL] = cloud.name
        if kind in ("Deployment", "StatefulSet"):
            zone_values(obj)[:] = [cloud.zones[z.name] for z in model.platform.zones]
        if kind == "StatefulSet":
            obj["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = cloud.storage_class
        if kind == "Ingress":
            obj["spec"]["ingressClassName"] = cloud.ingress_class
            if cloud.ingress_annotations:
                obj["metadata"]["annotations"] = dict(cloud.ingress_annotations)
    policy = objs[("NetworkPolicy", ns, f"allow-ingress-controller-to-{web.name}-ingress")]
    policy["spec"]["ingress"] = [{"from": peers, "ports": [{"protocol": "TCP", "port": web.port}]}]
    return list(objs.values())


@pytest.fixture(scope="session")
def netshop_builds(repo: Path, netshop) -> dict[str, tuple[list[dict], str]]:
    """`kubectl kustomize` of the committed base and of every committed overlay."""
    root = repo / "generated" / "kustomize"
    builds = {"base": kustomize(root / "base")}
    for cloud in netshop.clouds:
        builds[cloud.name] = kustomize(root / "overlays" / cloud.name)
    return builds


@pytest.fixture(scope="session")
def mini_root(tmp_path_factory, mini) -> Path:
    return write_families(mini, tmp_path_factory.mktemp("mini-kustomize"), "kustomize") / "kustomize"


def test_every_model_cloud_has_an_overlay_and_nothing_else(repo, netshop):
    overlays = repo / "generated" / "kustomize" / "overlays"
    assert sorted(p.name for p in overlays.iterdir()) == sorted(c.name for c in netshop.clouds)


def test_base_build_equals_the_rendered_objects(netshop, netshop_builds):
    docs, _ = netshop_builds["base"]
    assert differences(k8s.objects(netshop), docs) == []


def test_builds_print_no_warnings(netshop_builds):
    assert {name: err for name, (_, err) in netshop_builds.items() if err.strip()} == {}


def test_every_object_of_every_build_validates_strictly_against_kubernetes_1_30(netshop_builds):
    errors = {name: strict_errors(docs) for name, (docs, _) in netshop_builds.items()}
    assert {name: e for name, e in errors.items() if e} == {}
    assert all(docs for docs, _ in netshop_builds.values())


def test_each_overlay_is_the_base_with_exactly_its_clouds_changes(netshop, netshop_builds):
    for cloud in netshop.clouds:
        docs, _ = netshop_builds[cloud.name]
        assert differences(expected_overlay(netshop, cloud), docs) == [], cloud.name


def test_overlay_pins_every_workload_to_the_clouds_zones(netshop, netshop_builds):
    for cloud in netshop.clouds:
        docs, _ = netshop_builds[cloud.name]
        workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
        assert len(workloads) == len(netshop.services) + len(netshop.datastores)
        for w in workloads:
            assert sorted(zone_values(w)) == sorted(cloud.zones.values()), (cloud.name, w["metadata"]["name"])


def _strings(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) else set()


def test_overlay_leaves_no_model_zone_name_outside_the_model_itself(netshop, netshop_builds):
    """Model zone ids may only survive where the cloud names its zones the same (kind), or inside the model ConfigMap."""
    model_map = f"{netshop.platform.name}-model"
    for cloud in netshop.clouds:
        foreign = {z for z, cz in cloud.zones.items() if z != cz}
        docs, _ = netshop_builds[cloud.name]
        for d in docs:
            if d["kind"] == "ConfigMap" and d["metadata"]["name"] == model_map:
                continue
            assert not (_strings(d) & foreign), (cloud.name, d["kind"], d["metadata"]["name"])


def test_overlay_datastores_claim_the_clouds_storage_class(netshop, netshop_builds):
    for cloud in netshop.clouds:
        docs, _ = netshop_builds[cloud.name]
        claims = {
            d["metadata"]["name"]: [t["spec"].get("storageClassName") for t in d["spec"]["volumeClaimTemplates"]]
            for d in docs
            if d["kind"] == "StatefulSet"
        }
        assert claims == {ds.name: [cloud.storage_class] for ds in netshop.datastores}, cloud.name


def test_overlay_ingress_uses_the_clouds_class_and_annotations(netshop, netshop_builds):
    for cloud in netshop.clouds:
        docs, _ = netshop_builds[cloud.name]
        (ing,) = [d for d in docs if d["kind"] == "Ingress"]
        assert ing["spec"]["ingressClassName"] == cloud.ingress_class
        assert ing["metadata"].get("annotations", {}) == cloud.ingress_annotations


def test_overlay_admits_ingress_traffic_only_from_the_clouds_source(netshop, netshop_builds):
    web = netshop.service_by_name[netshop.platform.ingress.service]
    for cloud in netshop.clouds:
        docs, _ = netshop_builds[cloud.name]
        (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == f"allow-ingress-controller-to-{web.name}-ingress"]
        (rule,) = policy["spec"]["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": web.port}]
        src = cloud.ingress_source
        if src.namespace:
            (peer,) = rule["from"]
            assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": src.namespace}
            assert peer["podSelector"]["matchLabels"] == src.labels
        else:
            assert sorted(p["ipBlock"]["cidr"] for p in rule["from"]) == sorted(src.cidrs)


def test_overlay_applies_the_clouds_replica_floors(netshop, netshop_builds):
    assert any(c.replicas for c in netshop.clouds), "the model sets no replica floor, so this test proves nothing"
    for cloud in netshop.clouds:
        objs = keyed(netshop_builds[cloud.name][0])
        ns = netshop.platform.namespace
        for svc in netshop.services:
            floor = netshop.min_replicas(svc, cloud)
            assert objs[("Deployment", ns, svc.name)]["spec"]["replicas"] == floor, (cloud.name, svc.name)
            hpa = objs[("HorizontalPodAutoscaler", ns, svc.name)]["spec"]
            assert hpa["minReplicas"] == floor <= hpa["maxReplicas"], (cloud.name, svc.name)
            assert (("PodDisruptionBudget", ns, svc.name) in objs) == (floor > 1), (cloud.name, svc.name)


def test_kind_overlay_carries_a_cluster_with_one_labelled_worker_set_per_zone(repo, netshop):
    cloud = next(c for c in netshop.clouds if c.name == "kind")
    overlay = repo / "generated" / "kustomize" / "overlays" / "kind"
    config = yaml.safe_load((overlay / "kind-cluster.yaml").read_text())
    assert (config["apiVersion"], config["kind"]) == ("kind.x-k8s.io/v1alpha4", "Cluster")
    roles = [n["role"] for n in config["nodes"]]
    assert roles.count("control-plane") == 1
    workers = [n["labels"][ZONE_KEY] for n in config["nodes"] if n["role"] == "worker"]
    assert sorted(workers) == sorted(cz for cz in cloud.zones.values() for _ in range(cloud.nodes_per_zone))
    # kustomize never reads it
    assert "kind-cluster.yaml" not in (overlay / "kustomization.yaml").read_text()


def test_kustomizations_use_no_deprecated_fields(repo):
    deprecated = {"commonLabels", "patchesStrategicMerge", "patchesJson6902", "bases", "vars", "images_"}
    for path in sorted((repo / "generated" / "kustomize").rglob("kustomization.yaml")):
        assert not (set(yaml.safe_load(path.read_text())) & deprecated), path


# --------------------------------------------------------------------------- the mini fixture model


def test_mini_base_and_overlays_build_as_the_model_says(mini, mini_root):
    docs, err = kustomize(mini_root / "base")
    assert (differences(k8s.objects(mini), docs), err) == ([], "")
    for cloud in mini.clouds:
        docs, err = kustomize(mini_root / "overlays" / cloud.name)
        assert (differences(expected_overlay(mini, cloud), docs), err) == ([], ""), cloud.name


def test_a_floor_above_the_models_minimum_adds_a_pdb_and_lifts_the_hpa_ceiling(tmp_path):
    """GIVEN the mini model with a cloud floor above a single-replica service's max WHEN the overlay builds THEN
    the service gets that floor, an HPA ceiling at least as high, and a PodDisruptionBudget it lacked in the base."""
    data = yaml.safe_load(MINI_PATH.read_text())
    single = next(s for s in data["services"] if s["scaling"]["min"] == 1)
    floor = single["scaling"]["max"] + 1
    data["clouds"][0]["replicas"] = {single["tier"]: floor}
    model = build(data)
    cloud = model.clouds[0]
    root = write_families(model, tmp_path, "kustomize") / "kustomize"
    docs, err = kustomize(root / "overlays" / cloud.name)
    assert (differences(expected_overlay(model, cloud), docs), err) == ([], "")
    objs = keyed(docs)
    ns = model.platform.namespace
    assert objs[("HorizontalPodAutoscaler", ns, single["name"])]["spec"]["maxReplicas"] == floor
    assert ("PodDisruptionBudget", ns, single["name"]) in objs
    assert strict_errors(docs) == []


# --------------------------------------------------------------------------- model changes


def test_adding_a_service_changes_the_base_and_every_overlay(model_data, netshop, netshop_builds, tmp_path):
    """GIVEN a copy of the model with a new service WHEN kustomize is regenerated THEN the base and every overlay
    deploy it, placed and sized for each cloud."""
    grown = build(with_new_service(model_data))
    added = sorted(set(grown.service_by_name) - set(netshop.service_by_name))
    assert added
    root = write_families(grown, tmp_path, "kustomize") / "kustomize"
    docs, _ = kustomize(root / "base")
    assert differences(k8s.objects(grown), docs) == []
    assert differences(k8s.objects(netshop), docs) != []
    for cloud in grown.clouds:
        docs, err = kustomize(root / "overlays" / cloud.name)
        assert (differences(expected_overlay(grown, cloud), docs), err) == ([], ""), cloud.name
        assert docs != netshop_builds[cloud.name][0]
        objs = keyed(docs)
        for name in added:
            dep = objs[("Deployment", grown.platform.namespace, name)]
            assert sorted(zone_values(dep)) == sorted(cloud.zones.values())
            assert dep["spec"]["replicas"] == grown.min_replicas(grown.service_by_name[name], cloud)
