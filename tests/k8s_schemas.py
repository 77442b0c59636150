"""Offline schema checks for generated manifests: CRDs from shared/crd-schemas, core kinds strict at 1.30."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parent.parent
CRD_SCHEMAS = REPO.parent / "shared" / "crd-schemas"
KUBE_VERSION = "1.30.0"
CORE_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def group_version(obj: dict) -> tuple[str, str]:
    api = obj["apiVersion"]
    return tuple(api.split("/", 1)) if "/" in api else ("", api)  # type: ignore[return-value]


def is_core(obj: dict) -> bool:
    return group_version(obj)[0] in CORE_GROUPS


@cache
def crd_validator(group: str, kind: str, version: str) -> jsonschema.protocols.Validator:
    path = CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        raise AssertionError(f"no CRD schema for {group}/{version} {kind}: expected {path}")
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(obj: dict) -> list[str]:
    """Every schema violation of one object, each naming the object and the field."""
    name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    if is_core(obj):
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            return [f"{name}: {'.'.join(map(str, e.path))}: {e.message}"]
        return []
    group, version = group_version(obj)
    validator = crd_validator(group, obj["kind"], version)
    return [f"{name}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
