"""web service: `python -m services serve` with NETSHOP_SERVICE=web. Server-rendered pages over the BFF."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from . import console, platform_view, shop
from .runtime import STATIC, bff, client_ip, error_page, runtime

FORWARD_REQUEST = ("content-type", "accept", "idempotency-key", "authorization")
FORWARD_RESPONSE = ("content-type", "cache-control", "retry-after", "idempotent-replayed", "location", "allow")


async def _on_invalid(request: Request, exc: RequestValidationError) -> Response:
    fields = ", ".join(sorted({".".join(str(p) for p in e["loc"][1:]) or "request" for e in exc.errors()}))
    if any(e["loc"][:1] == ("path",) for e in exc.errors()):
        return error_page(request, 404, f"There is no page at {request.url.path}.")
    return error_page(request, 422, f"Invalid input in {fields}.", "Check your input")


runtime.app.add_exception_handler(RequestValidationError, _on_invalid)
runtime.app.include_router(shop.router)
runtime.app.include_router(console.router)
runtime.app.include_router(platform_view.router)
runtime.app.add_middleware(GZipMiddleware, minimum_size=800)
runtime.app.mount("/static", StaticFiles(directory=STATIC), name="static")


@runtime.proxy_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                       summary="Same-origin public API (product images, API clients) through the BFF")
async def api(request: Request, path: str) -> Response:
    """The public API, same-origin. The session cookie is never turned into a token here: API clients send
    their own `Authorization`, so a page cannot be tricked into spending the visitor's session."""
    headers = {h: request.headers[h] for h in FORWARD_REQUEST if h in request.headers}
    headers["X-Forwarded-For"] = client_ip(request)
    query = request.url.query
    body = await request.body()
    resp = await bff(request.method, f"/api/{path}" + (f"?{query}" if query else ""), request, data=body or None, headers=headers)
    return Response(resp.body, status_code=resp.status, headers={h: resp.headers[h] for h in FORWARD_RESPONSE if h in resp.headers})


app = runtime.app
