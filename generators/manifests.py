"""The rendered manifests: every object the Helm chart deploys, in one apply-ordered file."""

from __future__ import annotations

from collections.abc import Iterator

from model.schema import NetShopModel

from .base import Artifact, yaml_stream
from .k8s import objects

ROOTS = ("k8s/netshop.yaml",)


def generate(model: NetShopModel) -> Iterator[Artifact]:
    yield Artifact("k8s/netshop.yaml", yaml_stream(objects(model), __name__))
