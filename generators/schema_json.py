"""The model's JSON Schema, so editors autocomplete and check model/netshop.yaml."""

from __future__ import annotations

from collections.abc import Iterator

from model.schema import NetShopModel

from .base import Artifact, json_file

ROOTS = ("model.schema.json",)


def generate(model: NetShopModel) -> Iterator[Artifact]:
    schema = NetShopModel.model_json_schema(by_alias=True)
    schema["title"] = "NetShop system model"
    yield Artifact("model.schema.json", json_file({"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}, __name__))
