"""GitOps: Argo CD projects bound to what the bundles contain, an app-of-apps per cloud in sync-wave
order, enterprise patches that really rewrite the core bundle, and SLO-gated Rollouts for the edge."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from k8s_build import KUBECTL
import yaml

from conftest import build, with_new_service
from crd_validation import all_problems
from generators import FAMILIES, family
from generators.gitops import BUNDLES, boundary, bundle_objects, enterprise_patches
from generators.k8s import objects
from netshop.pipeline import render


def docs(model) -> dict[str, list[dict]]:
    return {p: [d for d in yaml.safe_load_all(b) if d] for p, b in render(model, only=["gitops"]).items()}


def flat(model) -> list[dict]:
    return [d for ds in docs(model).values() for d in ds]


def test_every_gitops_object_validates_against_its_schema(netshop, mini):
    for model in (netshop, mini):
        assert all_problems(flat(model)) == []


def test_app_project_admits_exactly_the_namespaces_and_kinds_the_bundles_contain(netshop):
    project = next(d for d in flat(netshop) if d["kind"] == "AppProject" and d["metadata"]["name"] == netshop.platform.name)
    spec = project["spec"]
    assert spec["sourceRepos"] == [netshop.platform.repository]
    allowed_ns = {d["namespace"] for d in spec["destinations"]}
    namespaced = {(k["group"], k["kind"]) for k in spec["namespaceResourceWhitelist"]}
    cluster = {(k["group"], k["kind"]) for k in spec["clusterResourceWhitelist"]}
    assert "*" not in {k for _, k in namespaced | cluster}
    for _, path, _, _ in BUNDLES:
        for obj in bundle_objects(netshop, path):
            group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
            ns = obj["metadata"].get("namespace")
            assert (group, obj["kind"]) in (namespaced if ns else cluster), (path, obj["kind"])
            assert ns is None or ns in allowed_ns
    assert netshop.platform.namespace in allowed_ns


def test_each_cloud_has_a_root_app_over_one_application_per_bundle_in_wave_order(netshop):
    files = docs(netshop)
    produced = set(render(netshop))
    kustomize_roots = family("kustomize").ROOTS
    for cloud in netshop.clouds:
        root = files[f"gitops/{cloud.name}/root.yaml"][0]
        apps_dir = root["spec"]["source"]["path"].removeprefix("generated/")
        apps = {p: d[0] for p, d in files.items() if p.startswith(apps_dir + "/")}
        bundles = {a["metadata"]["name"].removeprefix(f"{netshop.platform.name}-"): a for a in apps.values() if not a["metadata"]["name"].startswith("addon-")}
        assert sorted(bundles) == sorted(name for name, *_ in BUNDLES)
        waves = {n: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for n, a in bundles.items()}
        assert waves["secret-store"] <= waves["security"] < waves["data-ha"] < waves["core"] < waves["rollouts"]
        addon_waves = {int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for a in apps.values() if a["metadata"]["name"].startswith("addon-")}
        assert max(addon_waves) < min(waves.values())
        for name, app in bundles.items():
            path = app["spec"]["source"]["path"].removeprefix("generated/")
            assert app["spec"]["destination"]["namespace"] == netshop.platform.namespace
            if name == "core":
                assert path == f"kustomize/overlays/{cloud.name}" and any(path.startswith(r.rstrip("/")) for r in kustomize_roots)
                if any(p.startswith("kustomize/overlays/") for p in produced):  # once the kustomize family writes overlays
                    assert any(p.startswith(path + "/") for p in produced), path
                continue
            owners = [f for f in FAMILIES if any(r.startswith(path) or path.startswith(r.rstrip("/")) for r in family(f).ROOTS)]
            if owners:  # the bundle's family is on this branch: its Application must point at real files
                assert any(p.startswith(path + "/") for p in produced), (name, path)


def test_enterprise_patches_replace_the_datastores_and_hand_edge_hpas_to_rollouts(netshop, tmp_path):
    (tmp_path / "core.yaml").write_text("".join("---\n" + yaml.safe_dump(o) for o in objects(netshop)))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["core.yaml"], "patches": enterprise_patches(netshop)}))
    out = subprocess.run([str(KUBECTL), "kustomize", str(tmp_path)], capture_output=True, text=True, check=True).stdout
    built = [d for d in yaml.safe_load_all(out) if d]
    names = {(d["kind"], d["metadata"]["name"]) for d in built}
    for ds in netshop.datastores:
        assert ("StatefulSet", ds.name) not in names and ("Service", ds.name) not in names
    for svc in (s for s in netshop.services if s.tier == "edge"):
        hpa = next(d for d in built if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == svc.name)
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"
    for svc in netshop.services:
        env = {e["name"]: e for e in next(d for d in built if d["kind"] == "Deployment" and d["metadata"]["name"] == svc.name)["spec"]["template"]["spec"]["containers"][0]["env"]}
        for ds in netshop.datastores_of(svc.name):
            var = f"NETSHOP_{ds.name.upper().replace('-', '_')}"
            if ds.kind == "postgres":
                assert env[f"{var}_URL"]["value"].endswith("/" + svc.name.replace("-", "_"))
                assert env[f"{var}_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
            if ds.kind == "redis":
                assert env[f"{var}_SENTINELS"]["value"].startswith(f"{ds.name}-sentinel:")
    assert all_problems([d for d in built if d["kind"] != "Namespace"]) == []


def test_edge_services_get_slo_gated_rollouts_blue_green_for_the_ingress_service(netshop):
    objs = flat(netshop)
    rollouts = {r["metadata"]["name"]: r for r in objs if r["kind"] == "Rollout"}
    edge = [s for s in netshop.services if s.tier == "edge"]
    assert sorted(rollouts) == sorted(s.name for s in edge)
    template = next(o for o in objs if o["kind"] == "AnalysisTemplate")
    query = template["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
    assert 'http_server_requests_total{service="{{args.service-name}}",status=~"5.."}' in query
    for svc in edge:
        r = rollouts[svc.name]["spec"]
        assert r["workloadRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc.name, "scaleDown": "progressively"}
        strategy = r["strategy"]
        if svc.name == netshop.platform.ingress.service:
            analyses = [strategy["blueGreen"]["prePromotionAnalysis"], strategy["blueGreen"]["postPromotionAnalysis"]]
        else:
            analyses = [strategy["canary"]["analysis"]]
        for a in analyses:
            args = {x["name"]: x["value"] for x in a["args"]}
            assert args == {"service-name": svc.name, "success-rate": f"{svc.slo.availability / 100:.6g}"}
            assert a["templates"] == [{"templateName": template["metadata"]["name"]}]


def test_a_new_edge_service_gets_a_rollout_and_its_kinds_stay_inside_the_project(model_data, netshop):
    data = with_new_service(model_data)
    data["services"][-1]["tier"] = "edge"
    model = build(data)
    assert any(o["kind"] == "Rollout" and o["metadata"]["name"] == "wishlist" for o in flat(model))
    assert any(p["target"] == {"kind": "HorizontalPodAutoscaler", "name": "wishlist"} for p in enterprise_patches(model))
    assert boundary(model) == boundary(netshop)  # same namespaces and kinds: the boundary needs no review
