"""The shared service library on its own: model-driven identity and peers, retries, breaker, errors."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from aiohttp import web
from fastapi.testclient import TestClient

from model import load_model
from services.common.client import Peers, PeerUnavailable, UndeclaredCallError
from services.common.identity import Identity, local_placement
from services.common.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def identity(name: str, offset: int = 0, **kw) -> Identity:
    return Identity.load(Settings(service=name, port_offset=offset, **kw))  # type: ignore[call-arg]


def test_a_service_learns_port_zone_peers_and_datastores_from_the_model(netshop):
    me = identity("orders")
    assert me.port == netshop.service_by_name["orders"].port
    assert me.zone == local_placement(netshop)["orders"]
    assert sorted(Peers(me).grants) == netshop.peers_of("orders")
    assert {d.kind for d in me.datastores} == {d.kind for d in netshop.datastores_of("orders")}
    assert identity("orders", offset=1000).port == me.port + 1000


def test_local_placement_spreads_each_tier_across_zones(netshop):
    placement = local_placement(netshop)
    zones = {z.name for z in netshop.platform.zones}
    for tier in ("edge", "app", "worker"):
        members = [s.name for s in netshop.services if s.tier == tier]
        assert {placement[m] for m in members} == zones if len(members) >= len(zones) else True


def test_kubernetes_runtime_resolves_peers_by_cluster_dns(netshop):
    me = identity("orders", runtime="kubernetes")
    assert me.peer_base_url("payments") == f"http://payments.{netshop.platform.namespace}.svc.cluster.local:{netshop.service_by_name['payments'].port}"


def test_the_client_refuses_a_peer_the_model_does_not_declare():
    peers = Peers(identity("search"))
    with pytest.raises(UndeclaredCallError, match="no sync edge"):
        peers("payments")


def test_the_client_refuses_a_route_the_edge_does_not_grant():
    peers = Peers(identity("search"))
    with pytest.raises(UndeclaredCallError, match="not granted"):
        peers("products").route_for("POST", "/products/prices")
    assert peers("products").route_for("GET", "/products").ref == "GET /products"


class Upstream:
    """A real HTTP server standing in for a peer's port, answering from a script of statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.hits = list(statuses), []

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append((request.method, request.path, {k.lower(): v for k, v in request.headers.items()}))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"status": status, "detail": "scripted"}, status=status)


async def serve(upstream: Upstream, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", upstream.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def peers_for(caller: str, callee: str, **kw) -> tuple[Peers, int]:
    """A caller whose peer `callee` lives on a free local port (via the port offset)."""
    me = identity(caller)
    port = free_port()
    offset = port - me.model.service_by_name[callee].port
    return Peers(identity(caller, offset=offset), **kw), port


def test_idempotent_calls_are_retried_and_non_idempotent_ones_are_not():
    async def scenario():
        peers, port = peers_for("orders", "users")
        upstream = Upstream([503, 503, 200])
        runner = await serve(upstream, port)
        await peers.start()
        try:
            ok = await peers("users").get("/users/00000000-0000-0000-0000-000000000000")
            assert ok.status == 200 and len(upstream.hits) == 3  # GET retried twice
            upstream.statuses, upstream.hits = [503, 200], []
            bare, bport = peers_for("auth", "users")
            bare_up = Upstream([503, 200])
            brunner = await serve(bare_up, bport)
            await bare.start()
            try:
                resp = await bare("users").post("/users", json={"x": 1}, retry=False)
                assert resp.status == 503 and len(bare_up.hits) == 1  # a POST is never retried blindly
            finally:
                await bare.close()
                await brunner.cleanup()
        finally:
            await peers.close()
            await runner.cleanup()

    asyncio.run(scenario())


def test_calls_carry_request_id_caller_and_a_service_token():
    from services.common import context
    from services.common.servicetoken import HEADER, verify

    async def scenario():
        peers, port = peers_for("orders", "payments")
        upstream = Upstream([200])
        runner = await serve(upstream, port)
        await peers.start()
        try:
            context.request_id.set("req-123")
            context.user_id.set("user-9")
            await peers("payments").get("/payments/by-reference/abc")
        finally:
            await peers.close()
            await runner.cleanup()
        headers = upstream.hits[0][2]
        assert headers["x-request-id"] == "req-123" and headers["x-user-id"] == "user-9" and headers["x-netshop-caller"] == "orders"
        assert verify(headers[HEADER.lower()], "payments", Settings(service="payments").identity_secret.get_secret_value()) == "orders"  # type: ignore[call-arg]

    asyncio.run(scenario())


def test_the_breaker_opens_after_repeated_failures_and_fails_fast():
    async def scenario():
        peers, _port = peers_for("search", "products", attempts=1, breaker_threshold=3, breaker_ttl=30)
        await peers.start()  # nothing listens on the port: every call fails to connect
        try:
            for _ in range(3):
                with pytest.raises(PeerUnavailable, match="unavailable"):
                    await peers("products").get("/products")
            with pytest.raises(PeerUnavailable, match="circuit open"):
                await peers("products").get("/products")
        finally:
            await peers.close()

    asyncio.run(scenario())


def test_a_peers_problem_is_relayed_with_its_fields():
    from services.common.client import PeerResponse
    from services.common.problems import Problem

    resp = PeerResponse("payments", 402, {}, json.dumps({"title": "Payment declined", "status": 402, "detail": "No.", "decline_code": "card_declined"}).encode())
    with pytest.raises(Problem) as exc:
        resp.expect(201)
    assert exc.value.status == 402 and exc.value.title == "Payment declined" and exc.value.extra["decline_code"] == "card_declined"
    with pytest.raises(Problem) as exc:
        PeerResponse("payments", 500, {}, b"oops").expect(200)
    assert exc.value.status == 502


OPS_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def served_routes(app) -> set[str]:
    """`METHOD /path` for every route an app serves (included routers and mounts too), ops routes aside;
    a route answering every method is `ANY`, as the model writes proxies."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount

    out: set[str] = set()
    handlers: dict[tuple[str, object], set[str]] = {}  # one handler may be registered once per method
    for r in app.routes:
        if hasattr(r, "original_router"):  # an included APIRouter
            out |= served_routes(r.original_router)
        elif isinstance(r, Mount):
            out.add(f"GET {r.path}/{{path:path}}")
        elif isinstance(r, APIRoute) and r.path not in OPS_PATHS and not r.path.startswith("/_ops"):
            handlers.setdefault((r.path, r.endpoint), set()).update(r.methods - {"HEAD"})
    for (path, _), methods in handlers.items():
        out |= {f"ANY {path}"} if len(methods) > 1 else {f"{m} {path}" for m in methods}
    return out


@pytest.mark.parametrize("name", [s.name for s in load_model().services])
def test_every_service_serves_exactly_its_model_routes(netshop, name):
    """Code and model cannot drift: the routes each service serves equal the routes the model declares
    (and so the routes the edges into it grant)."""
    import importlib

    from netshop.local import implemented

    assert implemented(name), f"{name} has no implementation in services/"
    app = importlib.import_module(f"services.{name.replace('-', '_')}.app").app
    declared = {r.ref for r in netshop.service_by_name[name].routes}
    served = served_routes(app)
    assert served == declared, f"{name}: served-only {sorted(served - declared)}, model-only {sorted(declared - served)}"


def test_every_service_publishes_openapi_and_errors_as_problem_json(netshop):
    import importlib

    from netshop.local import implemented

    for svc in netshop.services:
        if not implemented(svc.name):
            continue
        app = importlib.import_module(f"services.{svc.name.replace('-', '_')}.app").app
        with TestClient(app, raise_server_exceptions=False) as client:
            doc = client.get("/openapi.json")
            assert doc.status_code == 200 and doc.json()["info"]["title"] == f"NetShop {svc.name}"
            missing = client.get("/definitely/not/here", headers={"Accept": "application/json"})
            assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
            assert client.get("/healthz").json()["service"] == svc.name
