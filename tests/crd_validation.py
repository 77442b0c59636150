"""Validate generated Kubernetes objects offline: custom resources against the shared CRD schemas,
core objects against the Kubernetes 1.30 schemas (kubernetes-validate, strict).

CRD schemas are made strict the way the API server's strict field validation is: an object schema
that lists its properties and does not preserve unknown fields rejects any other key, so a typo in a
generated field fails here instead of being dropped silently by the cluster.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

CRD_SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "crd-schemas"  # shared/ sits beside the clone
KUBE_VERSION = "1.30.0"
CORE_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _strict(schema: dict) -> dict:
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        for value in schema.values():
            if isinstance(value, dict):
                _strict(value)
            elif isinstance(value, list):
                for item in value:
                    _strict(item)
    return schema


def group_version(obj: dict) -> tuple[str, str]:
    api = obj["apiVersion"]
    return tuple(api.split("/", 1)) if "/" in api else ("", api)  # type: ignore[return-value]


def is_core(obj: dict) -> bool:
    return group_version(obj)[0] in CORE_GROUPS


@functools.cache
def crd_validator(group: str, kind: str, version: str) -> jsonschema.protocols.Validator:
    path = CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        raise AssertionError(f"no CRD schema for {group}/{version} {kind}: expected {path}")
    schema = _strict(copy.deepcopy(json.loads(path.read_text())))
    # every object has these at its root, whether or not the published schema lists them (most list only spec)
    for key in ("apiVersion", "kind", "metadata"):
        schema.setdefault("properties", {}).setdefault(key, {})
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema, format_checker=None)


def problems(obj: dict) -> list[str]:
    """Every schema violation of one object, as `Kind/name: path: message` lines (empty when valid)."""
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    group, version = group_version(obj)
    if group in CORE_GROUPS:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            return [f"{where}: {'.'.join(map(str, e.path))}: {e.message}"]
        return []
    validator = crd_validator(group, obj["kind"], version)
    return [
        f"{where}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    ]


def all_problems(objs: list[dict]) -> list[str]:
    return [p for o in objs for p in problems(o)]
