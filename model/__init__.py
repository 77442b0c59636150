"""The NetShop system model: schema, loader and inspections."""

from .loader import LoadedModel, ModelError, Problem, load_file, load_model, parse
from .schema import NetShopModel

__all__ = ["LoadedModel", "ModelError", "NetShopModel", "Problem", "load_file", "load_model", "parse"]
