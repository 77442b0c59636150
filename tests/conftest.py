"""Shared fixtures: the NetShop model, the small fixture model, and model copies to mutate."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from model import load_file, parse
from model.schema import NetShopModel

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL_PATH = REPO / "model" / "netshop.yaml"
MINI_PATH = FIXTURES / "mini.yaml"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def netshop() -> NetShopModel:
    """The real NetShop model."""
    return load_file(MODEL_PATH).model


@pytest.fixture(scope="session")
def mini() -> NetShopModel:
    """The small fixture model for golden tests."""
    return load_file(MINI_PATH).model


@pytest.fixture
def model_data() -> dict:
    """A fresh, mutable dict of the NetShop model, to break or extend in a test."""
    return copy.deepcopy(yaml.safe_load(MODEL_PATH.read_text()))


def build(data: dict) -> NetShopModel:
    """Validate a (mutated) model dict."""
    return parse(yaml.safe_dump(data, sort_keys=False), file="test-model.yaml").model


def with_new_service(data: dict) -> dict:
    """GIVEN a copy of the model WHEN an architect adds a `wishlist` app service with an edge and a datastore."""
    data["services"].append(
        {
            "name": "wishlist",
            "tier": "app",
            "role": "Saved products per user",
            "port": 8110,
            "routes": [{"method": "GET", "path": "/wishlist", "summary": "The caller's wishlist", "public": True, "auth": True}],
            "scaling": {"min": 3, "max": 6},
        }
    )
    data["sync_edges"].append({"caller": "api-gateway", "callee": "wishlist", "routes": ["public"], "purpose": "Wishlist"})
    data["sync_edges"].append({"caller": "wishlist", "callee": "products", "routes": ["GET /products/{product_id}"], "purpose": "Check products"})
    data["data_edges"].append({"service": "wishlist", "datastore": "redis", "purpose": "Wishlists"})
    return data


@pytest.fixture(scope="session")
def platform(request):
    """The whole platform, started as `make up` does, on the real datastores, isolated for this session.
    Its logs are kept (and their folder printed) only when a test failed."""
    import shutil
    import tempfile

    import platform_fixture

    # supervisord's socket path must stay short
    run_dir = Path(tempfile.mkdtemp(prefix="ns-", dir="/tmp"))
    p = platform_fixture.start(run_dir)
    try:
        yield p
    finally:
        platform_fixture.stop(p)
        if request.session.testsfailed:
            print(f"\nplatform logs kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def shop(platform):
    """The platform, with every fault point cleared after the test."""
    yield platform
    platform.clear_faults()
    platform.broker.restore()
