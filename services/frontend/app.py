"""frontend (BFF) service."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Path, Request
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


@runtime.on_shutdown
async def _close(rt) -> None:
    await cluster.close()


def _auth(request: Request) -> dict[str, str]:
    h = {}
    if auth := request.headers.get("authorization"):
        h["authorization"] = auth
    return h


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
        api("GET", "/products", params=params), api("GET", "/products/categories"), api("GET", "/analytics/summary"),
    )
    products = products_r.expect(200)
    ids = ",".join(p["id"] for p in products["items"])
    calls = [api("GET", "/ratings", params={"ids": ids})] if ids else []
    signed_in = "authorization" in request.headers
    if signed_in:
        calls.append(api("GET", "/cart", request))
    results = await asyncio.gather(*calls)
    ratings = (await _json_or(results[0], {"ratings": {}}))["ratings"] if ids else {}
    basket = await _json_or(results[-1], None) if signed_in else None
    return {
        "products": [{**p, "rating": ratings.get(p["id"], {"average": None, "count": 0})} for p in products["items"]],
        "total": products["total"],
        "categories": await _json_or(categories_r, []),
        "bestsellers": (await _json_or(summary_r, {})).get("top_products", []),
        "basket": {"count": basket["count"], "total_minor": basket["total_minor"]} if basket else None,
    }


@runtime.app.get("/bff/products/{product_id}", summary="Product, reviews, rating, stock and recommendations in one call")
async def product_page(product_id: ProductId) -> dict:
    product_r, reviews_r, recs_r = await asyncio.gather(
        api("GET", f"/products/{product_id}"), api("GET", f"/reviews/{product_id}"), api("GET", f"/recommendations/{product_id}"),
    )
    product = product_r.expect(200)
    reviews = await _json_or(reviews_r, {"average": None, "count": 0, "reviews": []})
    return {"product": product, "reviews": reviews, "recommendations": (await _json_or(recs_r, {"items": []}))["items"]}


@runtime.app.get("/bff/orders/{order_id}", summary="Order with its saga steps and the workers' effects")
async def order_page(order_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")], request: Request) -> dict:
    order = (await api("GET", f"/orders/{order_id}", request)).expect(200)
    stock_calls = [api("GET", f"/inventory/{line['product_id']}", params={"order_id": order_id}) for line in order["lines"]]
    inbox_r, summary_r, *stock_rs = await asyncio.gather(
        api("GET", "/users/me/notifications", request), api("GET", "/analytics/summary", params={"order_id": order_id}), *stock_calls,
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


@runtime.app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
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
