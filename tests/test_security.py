"""Supply chain and policy: Kyverno policies, secrets for every Secret the bundles read, the image
(hadolint), the CI workflow, the real CycloneDX SBOM, and checkov over manifests, overlays and Terraform."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from k8s_build import KUBECTL
import yaml

from conftest import REPO, build, with_new_service
from crd_validation import all_problems
from generators.k8s import APP_UID
from netshop.pipeline import render

VENV_BIN = Path(sys.executable).parent
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def security_docs(model) -> list[dict]:
    return [d for p, b in sorted(render(model, only=["security"]).items()) for d in yaml.safe_load_all(b) if d]


def test_every_security_object_validates_against_its_schema(netshop, mini):
    for model in (netshop, mini):
        assert all_problems(security_docs(model)) == []


def test_kyverno_enforces_signature_non_root_tags_and_limits_in_the_platform_namespace(netshop):
    policies = {p["metadata"]["name"].removeprefix(netshop.platform.name + "-"): p for p in security_docs(netshop) if p["kind"] == "ClusterPolicy"}
    assert sorted(policies) == ["disallow-latest-tag", "require-limits", "require-non-root", "verify-image-signatures"]
    for p in policies.values():
        (rule,) = p["spec"]["rules"]
        assert rule["match"] == {"any": [{"resources": {"kinds": ["Pod"], "namespaces": [netshop.platform.namespace]}}]}
    verify = policies["verify-image-signatures"]["spec"]["rules"][0]["verifyImages"][0]
    assert verify["imageReferences"] == [f"{netshop.platform.image}:*", f"{netshop.platform.image}@*"]
    keyless = verify["attestors"][0]["entries"][0]["keyless"]
    assert keyless["subject"].startswith(netshop.platform.repository.removesuffix(".git"))
    assert keyless["subject"].endswith("/.github/workflows/ci.yml@refs/heads/main")
    assert (REPO / ".github" / "workflows" / "ci.yml").is_file()


def test_adding_a_service_leaves_the_kyverno_scope_unchanged(model_data, netshop):
    new = build(with_new_service(model_data))
    kyverno = lambda m: [d for d in security_docs(m) if d["kind"] == "ClusterPolicy"]  # noqa: E731
    assert kyverno(new) == kyverno(netshop)


def _referenced_secrets(obj, out: set[str]) -> set[str]:
    """Secret names an object reads: secretKeyRef, CNPG passwordSecret/secret, RabbitMQ credentials, S3 keys."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in {"secretKeyRef", "passwordSecret", "importCredentialsSecret", "accessKeyId", "secretAccessKey"} and isinstance(value, dict):
                out.add(value["name"])
            elif key == "secret" and isinstance(value, dict) and "name" in value:
                out.add(value["name"])
            else:
                _referenced_secrets(value, out)
    elif isinstance(obj, list):
        for item in obj:
            _referenced_secrets(item, out)
    return out


def test_an_external_secret_provides_every_secret_the_bundles_read(netshop):
    files = render(netshop, only=["manifests", "data-ha"])
    read = set()
    for path, body in files.items():
        if path.endswith(".yaml") and "/examples/" not in path:
            for d in yaml.safe_load_all(body):
                _referenced_secrets(d, read)
    provided = {d["spec"]["target"]["name"] for d in security_docs(netshop) if d["kind"] == "ExternalSecret"}
    assert netshop.platform.jwt_secret in read and netshop.platform.datastore_secret in read
    assert read <= provided, sorted(read - provided)
    stores = [d for d in security_docs(netshop) if d["kind"] == "ClusterSecretStore"]
    assert sorted(s["metadata"]["annotations"]["netshop.io/cloud"] for s in stores) == sorted(c.name for c in netshop.clouds)


def test_the_sealed_secret_example_is_not_synced(netshop):
    sealed = [p for p, b in render(netshop, only=["security"]).items() if b"kind: SealedSecret" in b]
    assert sealed and all(p.startswith("security/examples/") for p in sealed)


def test_dockerfile_is_hadolint_clean_multi_stage_and_non_root():
    dockerfile = REPO / "Dockerfile"
    result = subprocess.run([str(VENV_BIN / "hadolint"), "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = dockerfile.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(rf"^ARG APP_UID={APP_UID}$", text, re.M)  # the UID the manifests run the pods as
    assert re.findall(r"^USER (.+)$", text, re.M)[-1].startswith("${APP_UID}")
    assert 'ENTRYPOINT ["python", "-m", "services"]' in text and 'CMD ["serve"]' in text
    assert ":latest" not in text


def test_ci_workflow_runs_the_supply_chain_in_order_without_hard_coded_platform_facts(netshop):
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    wf = yaml.safe_load(text)
    order = ["lint", "smoke", "Build", "Trivy scan", "CycloneDX SBOM", "Cosign sign", "Push the release tags", "GitOps bump"]
    names = [s.get("name", s.get("uses", "")) for job in wf["jobs"].values() for s in job["steps"]]
    positions = [next(i for i, n in enumerate(["lint", "smoke"] + names) if n.startswith(step) or (step in ("lint", "smoke") and n == step)) for step in order]
    assert positions == sorted(positions), list(zip(order, positions))
    assert wf["jobs"]["smoke"]["needs"] == "lint" and wf["jobs"]["image"]["needs"] == "smoke"
    assert wf["jobs"]["image"]["permissions"]["id-token"] == "write"  # keyless cosign
    for fact in (netshop.platform.image, f":{netshop.platform.version}"):
        assert fact not in text


def test_cyclonedx_sbom_of_the_python_environment_lists_the_pinned_dependencies(tmp_path):
    out = tmp_path / "sbom.cdx.json"
    subprocess.run([str(VENV_BIN / "cyclonedx-py"), "environment", "--output-format", "JSON", "--output-file", str(out), sys.executable],
                   check=True, capture_output=True)
    sbom = json.loads(out.read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    def canonical(name: str) -> str:  # PEP 503: case, '-', '_' and '.' are the same
        return re.sub(r"[-_.]+", "-", name).lower()

    versions = {canonical(c["name"]): c["version"] for c in sbom["components"]}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["test"], *project["optional-dependencies"]["platform"]]
    for pin in pins:
        name, version = pin.split("==")
        assert versions.get(canonical(name)) == version, pin
    assert all(c.get("purl", "").startswith("pkg:pypi/") for c in sbom["components"] if c["name"] != project["name"])


# --------------------------------------------------------------------------- checkov

# Checks skipped for every resource, each with the reason it does not apply here.
SKIPS = {
    "CKV_K8S_15": "imagePullPolicy IfNotPresent: image tags are pinned in the model and Kyverno pins the platform image to its "
                  "signed digest at admission; Always would make every pod start depend on the registry, even in a zone outage",
    "CKV_K8S_43": "digests: the model pins versions; Kyverno's verifyImages (mutateDigest, verifyDigest) rewrites the platform "
                  "image to its signed digest at admission, and generation stays offline (no registry look-ups)",
    "CKV_K8S_35": "secrets as env vars: the services' contract (NETSHOP_*_PASSWORD, NETSHOP_JWT_SECRET) and the engine images "
                  "read env; the Secrets themselves come from External Secrets and never reach Git",
    "CKV_K8S_40": "high UID: the datastore engines run as their images' own non-root users (model datastore.run_as_user), "
                  "which own the data directories; the platform image runs as UID 10001",
}
# Checks skipped for one resource only, with the model fact that requires it.
RESOURCE_SKIPS = {
    "CKV_K8S_38": "mounts a ServiceAccount token only where the model grants kube_access",
}


def _checkov(target: Path, framework: str) -> list[dict]:
    result = subprocess.run(
        [str(CHECKOV), "-d", str(target), "--framework", framework, "--skip-download", "--quiet", "--compact", "-o", "json",
         "--skip-check", ",".join(SKIPS)],
        capture_output=True, text=True,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout) if result.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    for report in reports:
        assert report.get("summary", {}).get("parsing_errors", 0) == 0, report["summary"]
    return [f for r in reports for f in r.get("results", {}).get("failed_checks", [])]


def _kube_access_resource(netshop, resource: str) -> bool:
    kind, _, name = resource.split(".", 2)
    svc = netshop.service_by_name.get(name)
    return kind == "Deployment" and svc is not None and bool(svc.kube_access)


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov venv missing: run `make setup`")
def test_checkov_finds_nothing_unjustified_in_manifests_overlays_and_terraform(netshop, tmp_path):
    gen = REPO / "generated"
    k8s_dir = tmp_path / "k8s"
    k8s_dir.mkdir()
    shutil.copy(gen / "k8s" / "netshop.yaml", k8s_dir / "netshop.yaml")
    for bundle in ("data-ha", "gitops/rollouts", "security/policies"):
        for f in sorted((gen / bundle).glob("*.yaml")):
            shutil.copy(f, k8s_dir / f"{bundle.replace('/', '-')}-{f.name}")
    overlays = sorted((gen / "kustomize" / "overlays").glob("*/kustomization.yaml")) if (gen / "kustomize" / "overlays").is_dir() else []
    for kz in overlays:
        built = subprocess.run([str(KUBECTL), "kustomize", str(kz.parent)], capture_output=True, text=True, check=True).stdout
        (k8s_dir / f"overlay-{kz.parent.name}.yaml").write_text(built)
    failures = _checkov(k8s_dir, "kubernetes") + _checkov(gen / "terraform", "terraform")
    unjustified = [
        f"{f['check_id']} {f['resource']} ({f['check_name']})"
        for f in failures
        if not (f["check_id"] in RESOURCE_SKIPS and _kube_access_resource(netshop, f["resource"]))
    ]
    assert unjustified == []
