"""Generator families: each module turns the model into artifacts under `generated/`.

A family is a module with `ROOTS` (the paths under `generated/` it owns) and a pure
`generate(model) -> Iterable[Artifact]`. Adding a family is one module plus one line in FAMILIES.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

FAMILIES: dict[str, str] = {
    "schema": "generators.schema_json",
    "manifests": "generators.manifests",
    "policies": "generators.networkpolicies",
    "helm": "generators.helm",
    "kustomize": "generators.kustomize",
    "local": "generators.local",
    "data-ha": "generators.data_ha",
    "gitops": "generators.gitops",
    "security": "generators.security",
    "terraform": "generators.terraform",
    "diagrams": "generators.diagrams",
    "service-mesh": "generators.service_mesh",
    "observability": "generators.observability",
    "docs": "generators.docs",
}


def family(name: str) -> ModuleType:
    return import_module(FAMILIES[name])
