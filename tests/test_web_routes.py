"""The routes web and the BFF serve are exactly the routes the model declares for them (and so the
routes the web -> frontend and frontend -> api-gateway edges grant)."""

from __future__ import annotations

import importlib

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

OPS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def served(app) -> set[tuple[str, str]]:
    out = set()
    for r in app.routes:
        if hasattr(r, "original_router"):  # an included APIRouter
            out |= served(r.original_router)
        elif isinstance(r, Mount):
            out.add(("GET", r.path + "/{path:path}"))
        elif isinstance(r, APIRoute) and r.path not in OPS and not r.path.startswith("/_ops"):
            methods = r.methods - {"HEAD"}
            out |= {("ANY", r.path)} if len(methods) > 1 else {(m, r.path) for m in methods}
    return out


@pytest.mark.parametrize("service", ["web", "frontend"])
def test_served_routes_equal_the_models_routes(netshop, service):
    app = importlib.import_module(f"services.{service}.app").app
    assert served(app) == {(r.method, r.path) for r in netshop.service_by_name[service].routes}
