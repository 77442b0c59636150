"""Clouds: Terraform per managed cloud from model.clouds (parsed with python-hcl2, `fmt`-clean where a
binary exists), Ansible playbooks that pass syntax-check and ansible-lint, and the deploy entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest

from conftest import REPO
from generators.k8s import ZONE_KEY
from netshop.pipeline import render

VENV_BIN = Path(sys.executable).parent


def plain(value):
    """python-hcl2 keeps HCL's quotes and adds markers; strip both to compare with model values."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def terraform(model) -> dict[str, dict]:
    return {p.split("/")[1]: plain(hcl2.loads(b.decode())) for p, b in render(model, only=["terraform"]).items()}


def resources(doc: dict, kind: str) -> list[dict]:
    return [body for block in doc.get("resource", []) for k, named in block.items() if k == kind for body in named.values()]


def test_every_managed_cloud_gets_terraform_and_the_local_one_none(netshop, mini):
    for model in (netshop, mini):
        assert sorted(terraform(model)) == sorted(c.name for c in model.clouds if c.name != "kind")


def test_gke_is_regional_over_the_model_zones_with_nodes_per_zone(netshop):
    cloud = next(c for c in netshop.clouds if c.name == "gke")
    doc = terraform(netshop)["gke"]
    (cluster,) = resources(doc, "google_container_cluster")
    (pool,) = resources(doc, "google_container_node_pool")
    zones = [cloud.zones[z.name] for z in netshop.platform.zones]
    assert cluster["location"] == cloud.region and cluster["node_locations"] == zones
    assert pool["node_locations"] == zones and pool["node_count"] == cloud.nodes_per_zone
    assert pool["node_config"][0]["machine_type"] == cloud.node_type


def test_eks_has_one_node_group_per_model_zone(netshop):
    cloud = next(c for c in netshop.clouds if c.name == "eks")
    groups = resources(terraform(netshop)["eks"], "aws_eks_node_group")
    assert sorted(g["node_group_name"] for g in groups) == sorted(f"workers-{cloud.zones[z.name]}" for z in netshop.platform.zones)
    for g in groups:
        assert g["instance_types"] == [cloud.node_type]
        assert g["scaling_config"][0]["desired_size"] == cloud.nodes_per_zone


def test_aks_node_pools_span_the_model_zones(netshop):
    cloud = next(c for c in netshop.clouds if c.name == "aks")
    doc = terraform(netshop)["aks"]
    (cluster,) = resources(doc, "azurerm_kubernetes_cluster")
    (workers,) = resources(doc, "azurerm_kubernetes_cluster_node_pool")
    numbers = [cloud.zones[z.name].rsplit("-", 1)[1] for z in netshop.platform.zones]
    assert cluster["location"] == "${azurerm_resource_group.platform.location}"
    assert resources(doc, "azurerm_resource_group")[0]["location"] == cloud.region
    assert workers["zones"] == numbers and cluster["default_node_pool"][0]["zones"] == numbers
    assert workers["node_count"] == cloud.nodes_per_zone * len(numbers) and workers["vm_size"] == cloud.node_type


def test_doks_labels_one_node_pool_per_model_zone_with_the_zone_label(netshop):
    cloud = next(c for c in netshop.clouds if c.name == "doks")
    doc = terraform(netshop)["doks"]
    (cluster,) = resources(doc, "digitalocean_kubernetes_cluster")
    pools = cluster["node_pool"] + resources(doc, "digitalocean_kubernetes_node_pool")
    assert cluster["region"] == cloud.region
    assert sorted(p["labels"][ZONE_KEY] for p in pools) == sorted(cloud.zones[z.name] for z in netshop.platform.zones)
    assert all(p["size"] == cloud.node_type and p["node_count"] == cloud.nodes_per_zone for p in pools)


def test_a_new_zone_reaches_every_cloud(model_data):
    from conftest import build

    model_data["platform"]["zones"].append({"name": "zone-d", "title": "Zone D"})
    suffix = {"gke": "europe-west1-e", "eks": "eu-west-1d", "aks": "westeurope-4", "doks": "ams3-4", "kind": "zone-d"}
    for cloud in model_data["clouds"]:
        cloud["zones"]["zone-d"] = suffix[cloud["name"]]
    docs = terraform(build(model_data))
    assert "europe-west1-e" in resources(docs["gke"], "google_container_cluster")[0]["node_locations"]
    assert len(resources(docs["eks"], "aws_eks_node_group")) == 4
    assert "4" in resources(docs["aks"], "azurerm_kubernetes_cluster_node_pool")[0]["zones"]
    assert len(resources(docs["doks"], "digitalocean_kubernetes_node_pool")) == 3


FMT = shutil.which("tofu") or shutil.which("terraform")


@pytest.mark.skipif(FMT is None, reason="no tofu or terraform binary (none is packaged on PyPI or Debian)")
def test_terraform_is_fmt_clean():
    result = subprocess.run([FMT, "fmt", "-check", "-recursive", "-diff", str(REPO / "generated" / "terraform")],
                            capture_output=True, text=True, env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull})
    assert result.returncode == 0, result.stdout


def test_ansible_playbooks_pass_syntax_check_and_ansible_lint():
    ansible = REPO / "ansible"
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "ANSIBLE_LOCAL_TEMP": "/tmp/ansible-local", "ANSIBLE_HOME": "/tmp/ansible-home"}
    syntax = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", "inventory.yml", "site.yml"],
                            cwd=ansible, capture_output=True, text=True, env=env)
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    lint = subprocess.run([str(VENV_BIN / "ansible-lint", ), "--offline", "."], cwd=ansible, capture_output=True, text=True, env=env)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_ansible_reads_the_addons_from_the_generated_applications(netshop):
    playbook = (REPO / "ansible" / "addons.yml").read_text()
    assert "gitops/{{ netshop_cloud }}/apps" in playbook and "addon-*.yaml" in playbook
    produced = render(netshop, only=["gitops"])
    for cloud in netshop.clouds:
        assert any(p.startswith(f"gitops/{cloud.name}/apps/addon-argo-cd") for p in produced)


def _deploy(*args: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts" / "deploy.sh"), *args], capture_output=True, text=True,
                          env={**os.environ, "PATH": path}, timeout=60)


def test_deploy_script_names_the_model_clouds_and_the_missing_tools(netshop, tmp_path):
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "deploy.sh")]).returncode == 0
    bad = _deploy("cloud", "nowhere", path=os.environ["PATH"])
    assert bad.returncode == 2 and all(c.name in bad.stderr for c in netshop.clouds)
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("bash", "sed", "dirname", "python3"):
        if shutil.which(tool):
            (bare / tool).symlink_to(shutil.which(tool))
    missing = _deploy("status", path=str(bare))
    assert missing.returncode == 3 and "kubectl" in missing.stderr
    usage = _deploy(path=str(bare))
    assert usage.returncode == 2 and "enterprise" in usage.stdout
