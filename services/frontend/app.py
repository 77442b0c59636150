"""frontend (BFF) service: aggregated storefront views, live platform state and the console's control deck."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
import uuid
from typing import Annotated, Any

from fastapi import Path, Query, Request
from fastapi.responses import Response
from opentelemetry import trace
from pydantic import BaseModel, Field

from services.common.app import ServiceRuntime
from services.common.client import PeerResponse
from services.common.problems import Problem

from .cluster import source_for

runtime = ServiceRuntime("frontend")
cluster = source_for(runtime)
GATEWAY = "api-gateway"
FORWARD_REQUEST = ("content-type", "accept", "idempotency-key", "authorization")
FORWARD_RESPONSE = ("content-type", "cache-control", "retry-after", "idempotent-replayed", "location",
                    "x-netshop-upstream", "x-netshop-upstream-zone", "allow")
ProductId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]
OrderId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
NO_RATING = {"average": None, "count": 0}


@runtime.on_shutdown
async def _close(rt) -> None:
    await cluster.close()


def _auth(request: Request) -> dict[str, str]:
    """The shopper's token and address travel with every call made on their behalf (the gateway rate-limits per client)."""
    return {h: request.headers[h] for h in ("authorization", "x-forwarded-for") if h in request.headers}


async def api(method: str, path: str, request: Request | None = None, **kw: Any) -> PeerResponse:
    """A call to the gateway on the shopper's behalf (their token travels along)."""
    headers = kw.pop("headers", {}) | (_auth(request) if request else {})
    return await runtime.peers(GATEWAY).request(method, "/api" + path, headers=headers, **kw)


async def _json_or(resp: PeerResponse, default: Any) -> Any:
    return resp.json() if resp.ok else default


@runtime.app.get("/bff/home", summary="Products with ratings, recommendations and basket in one call")
async def home(request: Request, category: str | None = None, limit: int = 12) -> dict:
    params = {"limit": str(max(1, min(limit, 48)))} | ({"category": category} if category else {})
    products_r, categories_r, summary_r = await asyncio.gather(
        api("GET", "/products", request, params=params), api("GET", "/products/categories", request),
        api("GET", "/analytics/summary", request),
    )
    products = products_r.expect(200)
    ids = ",".join(p["id"] for p in products["items"])
    calls = [api("GET", "/ratings", request, params={"ids": ids})] if ids else []
    signed_in = "authorization" in request.headers
    if signed_in:
        calls.append(api("GET", "/cart", request))
    results = await asyncio.gather(*calls)
    ratings = (await _json_or(results[0], {"ratings": {}}))["ratings"] if ids else {}
    basket = await _json_or(results[-1], None) if signed_in else None
    return {
        "products": [{**p, "rating": ratings.get(p["id"], NO_RATING)} for p in products["items"]],
        "total": products["total"],
        "categories": await _json_or(categories_r, []),
        "bestsellers": (await _json_or(summary_r, {})).get("top_products", []),
        "basket": {"count": basket["count"], "total_minor": basket["total_minor"]} if basket else None,
    }


@runtime.app.get("/bff/products/{product_id}", summary="Product, reviews, rating, stock and recommendations in one call")
async def product_page(product_id: ProductId, request: Request) -> dict:
    product_r, reviews_r, recs_r = await asyncio.gather(
        api("GET", f"/products/{product_id}", request), api("GET", f"/reviews/{product_id}", request),
        api("GET", f"/recommendations/{product_id}", request),
    )
    product = product_r.expect(200)
    reviews = await _json_or(reviews_r, {"average": None, "count": 0, "reviews": []})
    recs = (await _json_or(recs_r, {"items": []}))["items"]
    ratings = await _ratings([r["id"] for r in recs], request)
    return {"product": product, "reviews": reviews,
            "recommendations": [{**r, "rating": ratings.get(r["id"], NO_RATING)} for r in recs]}


async def _ratings(ids: list[str], request: Request | None = None) -> dict[str, dict]:
    if not ids:
        return {}
    return (await _json_or(await api("GET", "/ratings", request, params={"ids": ",".join(ids)}), {"ratings": {}}))["ratings"]


@runtime.app.get("/bff/search", summary="Ranked search results with ratings, facets and categories in one call")
async def search_page(request: Request, q: Annotated[str, Query(max_length=200)] = "",
                      category: Annotated[str | None, Query(max_length=40)] = None,
                      min_price: Annotated[int | None, Query(ge=0)] = None, max_price: Annotated[int | None, Query(ge=0)] = None,
                      limit: Annotated[int, Query(ge=1, le=48)] = 24) -> dict:
    params = {"q": q, "limit": str(limit)} | {k: str(v) for k, v in
                                               (("category", category), ("min_price", min_price), ("max_price", max_price)) if v is not None}
    found_r, categories_r = await asyncio.gather(api("GET", "/search", request, params=params),
                                                 api("GET", "/products/categories", request))
    found = found_r.expect(200)
    ratings = await _ratings([p["id"] for p in found["items"]], request)
    return {**found, "items": [{**p, "rating": ratings.get(p["id"], NO_RATING)} for p in found["items"]],
            "categories": await _json_or(categories_r, [])}


@runtime.app.get("/bff/orders/{order_id}", summary="Order with its saga steps and the workers' effects")
async def order_page(order_id: OrderId, request: Request) -> dict:
    return await order_with_effects(order_id, _auth(request))


async def order_with_effects(order_id: str, headers: dict[str, str]) -> dict:
    """An order, its saga steps, and whether each worker has applied its effect yet."""
    order = (await api("GET", f"/orders/{order_id}", headers=dict(headers))).expect(200)
    stock_calls = [api("GET", f"/inventory/{line['product_id']}", params={"order_id": order_id}) for line in order["lines"]]
    inbox_r, summary_r, *stock_rs = await asyncio.gather(
        api("GET", "/users/me/notifications", headers=dict(headers)), api("GET", "/analytics/summary", params={"order_id": order_id}),
        *stock_calls,
    )
    stock = [await _json_or(r, {}) for r in stock_rs]
    inbox = (await _json_or(inbox_r, {"items": []}))["items"]
    message = next((n for n in inbox if n["order_id"] == order_id), None)
    recorded = (await _json_or(summary_r, {})).get("order", {}).get("recorded", False)
    lines_done = [s.get("order_committed", 0) == line["quantity"] for s, line in zip(stock, order["lines"], strict=True)]
    return {
        "order": order,
        "effects": {
            "inventory": {"done": all(lines_done), "lines": [
                {"product_id": line["product_id"], "committed": s.get("order_committed", 0), "available": s.get("available")}
                for s, line in zip(stock, order["lines"], strict=True)]},
            "notifications": {"done": message is not None, "message": message},
            "analytics": {"done": bool(recorded)},
        },
    }


@runtime.app.get("/bff/platform", summary="Live platform state (pods, zones, health) and which source is live")
async def platform() -> dict:
    try:
        state = await cluster.state()
    except Exception as exc:
        raise Problem(503, f"The {cluster.source} is unreachable: {exc}.", title="Platform state unavailable", source=cluster.source) from None
    return {"source": cluster.source, **state}


@runtime.app.get("/bff/metrics", summary="Live request rate, p95 latency and orders")
async def live_metrics() -> dict:
    try:
        return {"source": cluster.source, **(await cluster.metrics())}
    except Exception as exc:
        raise Problem(503, f"Live metrics are unavailable from the {cluster.source}: {exc}.", title="Metrics unavailable",
                      source=cluster.source) from None


class TraceRequest(BaseModel):
    path: str = Field(default="/products?limit=4", pattern=r"^/[A-Za-z0-9/_?=&.,-]*$", max_length=200,
                      description="A public API path (after /api) to send one traced GET to")


@runtime.app.post("/bff/trace", summary="Send one traced request and return its spans")
async def send_trace(body: TraceRequest, request: Request) -> dict:
    tracer = trace.get_tracer("netshop.frontend")
    with tracer.start_as_current_span("console send-trace") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        resp = await api("GET", body.path, request)
    spans: dict = {}
    for _ in range(20):  # spans reach the backend within a batch interval
        await asyncio.sleep(0.25)
        r = await runtime.peers(GATEWAY).get(f"/traces/{trace_id}")
        if r.ok:
            spans = r.json()
            servers = {s["service"] for s in spans["spans"] if s["kind"] == "server"}
            if resp.headers.get("x-netshop-upstream") in servers:
                break
    return {"trace_id": trace_id, "status": resp.status, "path": body.path, **({k: v for k, v in spans.items() if k != "trace_id"} if spans else {"spans": []})}


# --------------------------------------------------------------------------- console control deck

DEMO_EMAIL = "console-demo@example.com"
TEST_CARD = "4242424242424242"  # payments' documented always-approve card


def _demo_password() -> str:
    """The console's demo shopper has a password derived from the platform's identity secret, not a constant."""
    key = runtime.settings.identity_secret.get_secret_value().encode()
    return hmac.new(key, DEMO_EMAIL.encode(), hashlib.sha256).hexdigest()


async def _demo_token() -> str:
    creds = {"email": DEMO_EMAIL, "password": _demo_password()}
    login = await api("POST", "/auth/login", json=creds)
    if login.status == 401:  # first use on this platform: create the demo shopper
        reg = await api("POST", "/auth/register", json=creds | {"name": "Console Demo"})
        if reg.status not in (201, 409):
            reg.expect(201)
        login = await api("POST", "/auth/login", json=creds)
    return login.expect(200)["access_token"]


class DemoOrder(BaseModel):
    lines: int = Field(default=2, ge=1, le=5, description="How many different products the demo shopper buys")


@runtime.app.post("/bff/console/order", status_code=201, summary="Place a real order as the console's demo shopper")
async def demo_order(body: DemoOrder) -> dict:
    headers = {"authorization": f"Bearer {await _demo_token()}"}
    catalogue = (await api("GET", "/products", params={"limit": "48"})).expect(200)["items"]
    if not catalogue:
        raise Problem(409, "The catalogue is empty; nothing to order.", title="Empty catalogue")
    (await api("DELETE", "/cart", headers=dict(headers))).expect(204)
    for product in random.sample(catalogue, min(body.lines, len(catalogue))):
        (await api("POST", "/cart/items", headers=dict(headers), json={"product_id": product["id"], "quantity": 1})).expect(201)
    placed = (await api("POST", "/orders/checkout", headers=headers | {"Idempotency-Key": f"console-{uuid.uuid4()}"},
                        json={"card_number": TEST_CARD})).expect(201)
    return {"email": DEMO_EMAIL, **placed}


@runtime.app.get("/bff/console/order/{order_id}", summary="The demo shopper's order with its saga steps and workers' effects")
async def demo_order_progress(order_id: OrderId) -> dict:
    return await order_with_effects(order_id, {"authorization": f"Bearer {await _demo_token()}"})


class Burst(BaseModel):
    count: int = Field(default=50, ge=1, le=200, description="Requests in this burst (bounded)")
    concurrency: int = Field(default=8, ge=1, le=16, description="Requests in flight at once")
    path: str = Field(default="/products?limit=8", pattern=r"^/[A-Za-z0-9/_?=&.,-]*$", max_length=200,
                      description="A public API path (after /api) to GET")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@runtime.app.post("/bff/console/burst", summary="Send a bounded burst of requests through the gateway and report how it went")
async def burst(body: Burst) -> dict:
    gate = asyncio.Semaphore(body.concurrency)
    statuses: dict[str, int] = {}
    zones: dict[str, int] = {}
    latencies: list[float] = []
    # the burst is its own client at the gateway: it cannot eat the shoppers' rate-limit budget
    headers = {"X-Forwarded-For": f"console-burst-{runtime.identity.instance}"}

    async def one() -> None:
        async with gate:
            start = time.perf_counter()
            try:
                resp = await api("GET", body.path, headers=dict(headers), retry=False)
                key = str(resp.status)
                zone = resp.headers.get("x-netshop-upstream-zone")
            except Problem as exc:
                key, zone = str(exc.status), None
            latencies.append((time.perf_counter() - start) * 1000)
            statuses[key] = statuses.get(key, 0) + 1
            if zone:
                zones[zone] = zones.get(zone, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(body.count)))
    elapsed = time.perf_counter() - started
    ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    return {
        "count": body.count, "ok": ok, "failed": body.count - ok, "statuses": dict(sorted(statuses.items())),
        "upstream_zones": dict(sorted(zones.items())), "elapsed_ms": round(elapsed * 1000, 1),
        "rps": round(body.count / elapsed, 1) if elapsed else None,
        "p50_ms": _round(_percentile(latencies, 0.5)), "p95_ms": _round(_percentile(latencies, 0.95)),
    }


def _round(v: float | None) -> float | None:
    return round(v, 1) if v is not None else None


class ScaleTarget(BaseModel):
    min: int = Field(ge=1, le=50, description="HPA minReplicas")
    max: int = Field(ge=1, le=50, description="HPA maxReplicas")


@runtime.app.put("/bff/scale/{service}", summary="Set a service's autoscaler bounds (in a cluster)")
async def scale(service: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,63}$")], body: ScaleTarget) -> dict:
    if service not in runtime.identity.model.service_by_name:
        raise Problem(404, f"No service {service!r} in the model.", title="Unknown service")
    if body.min > body.max:
        raise Problem(422, "min must not exceed max.", title="Validation failed", field="body.min")
    if not hasattr(cluster, "scale"):
        raise Problem(409, f"The {cluster.source} runs one process per service, so there is no autoscaler to drive; "
                      "replicas per zone are shown read-only. Scaling patches the HPA in a cluster.",
                      title="Scaling needs a cluster", source=cluster.source)
    try:
        result = await cluster.scale(service, body.min, body.max)
    except Exception as exc:
        raise Problem(503, f"The {cluster.source} refused the change: {exc}.", title="Scale failed", source=cluster.source) from None
    return {"source": cluster.source, **result}


@runtime.proxy_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                       summary="Same-origin pass-through to the API gateway")
async def passthrough(request: Request, path: str) -> Response:
    headers = {h: request.headers[h] for h in FORWARD_REQUEST if h in request.headers}
    headers["X-Forwarded-For"] = request.headers.get("x-forwarded-for") or (request.client.host if request.client else "unknown")
    query = request.url.query
    body = await request.body()
    resp = await runtime.peers(GATEWAY).request(request.method, f"/api/{path}" + (f"?{query}" if query else ""),
                                                data=body or None, headers=headers)
    return Response(resp.body, status_code=resp.status, headers={h: resp.headers[h] for h in FORWARD_RESPONSE if h in resp.headers})


app = runtime.app
