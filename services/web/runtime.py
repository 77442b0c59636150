"""The web service's runtime, its one peer (the BFF), page rendering and the error pages."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.app import ServiceRuntime
from services.common.client import PeerResponse
from services.common.problems import Problem, problem_response

from . import filters
from .session import FLASH, Session, session_of, take_flash

log = logging.getLogger("netshop.web")
HERE = Path(__file__).parent
STATIC = HERE / "static"
runtime = ServiceRuntime("web")
BFF = "frontend"  # web's one declared peer (model edge web -> frontend)
templates = Jinja2Templates(directory=HERE / "templates")
filters.install(templates.env)


def _asset_versions() -> dict[str, str]:
    """Content hashes of the static files, so asset URLs can be cached for a year and still change on deploy."""
    return {p.relative_to(STATIC).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:10]
            for p in sorted(STATIC.rglob("*")) if p.is_file()}


ASSETS = _asset_versions()
templates.env.globals["asset"] = lambda path: f"/static/{path}?v={ASSETS[path]}"
templates.env.globals["platform"] = runtime.identity.model.platform
templates.env.globals["zone"] = runtime.identity.zone
templates.env.globals["step_names"] = list(filters.STEP_TITLES)
templates.env.globals["worker_effects"] = {s.consumer: s.effect for e in runtime.identity.model.events for s in e.subscriptions}
templates.env.globals["event_name"] = ", ".join(e.name for e in runtime.identity.model.events)


def client_ip(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for", "")
    return forwarded.split(",")[0].strip() or (request.client.host if request.client else "unknown")


async def bff(method: str, path: str, request: Request, session: Session | None = None, **kw: Any) -> PeerResponse:
    """One call to the BFF on the visitor's behalf: their token (from the cookie) and address travel along."""
    headers = {"X-Forwarded-For": client_ip(request)} | (session.headers() if session else {}) | kw.pop("headers", {})
    return await runtime.peers(BFF).request(method, path, headers=headers, **kw)


async def bff_json(method: str, path: str, request: Request, session: Session | None = None, *, ok: tuple[int, ...] = (200,),
                   **kw: Any) -> Any:
    """The JSON body of a BFF call that must succeed; otherwise the Problem explaining why."""
    return (await bff(method, path, request, session, **kw)).expect(*ok)


async def optional(call, default: Any = None) -> Any:
    """A part of a page that may be missing (live metrics, a basket count) without failing the page."""
    try:
        return await call
    except Problem as exc:
        if exc.status == 429:
            raise  # the client is over its rate limit: say so, rather than serve a page that looks broken (503)
        log.info("optional page part unavailable: %s", exc.detail)
        return default


async def basket_count(request: Request, session: Session) -> int | None:
    if not session.signed_in:
        return None
    basket = await optional(bff_json("GET", "/api/cart", request, session))
    return basket["count"] if basket else None


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def wants_fragment(request: Request) -> bool:
    return request.headers.get("x-netshop-fragment") == "1"


def render(request: Request, template: str, context: dict[str, Any], *, session: Session | None = None,
           status: int = 200, basket: int | None = None) -> HTMLResponse:
    session = session if session is not None else session_of(request)
    flash = take_flash(request)
    ctx = {"request": request, "session": session, "basket_count": basket, "flash": flash, "path": request.url.path} | context
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    if flash:
        response.delete_cookie(FLASH, path="/")
    return response


def fragment(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A page part rendered by the same template the full page includes (progressive enhancement swaps it in)."""
    return templates.TemplateResponse(request, template, {"request": request} | context, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def same_origin(request: Request) -> None:
    """Refuse state-changing form posts from other sites (the session cookie is also SameSite=Lax)."""
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        raise Problem(403, "Forms may only be submitted from this shop's own pages.", title="Cross-site request refused")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise Problem(403, "Forms may only be submitted from this shop's own pages.", title="Cross-site request refused")


SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@runtime.app.middleware("http")
async def _headers(request: Request, call_next):
    response = await call_next(request)
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    if request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if request.query_params.get("v") else "public, max-age=300"
    elif response.headers.get("content-type", "").startswith("text/html"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


ERROR_TEXT = {
    404: ("Not found", "We could not find that page or product."),
    503: ("Temporarily unavailable", "Part of the shop is not answering right now. Your basket is safe; please try again in a moment."),
}


def error_page(request: Request, status: int, detail: str, title: str | None = None, peer: str | None = None) -> Response:
    if wants_json(request) or request.url.path.startswith(("/live/", "/api/")):
        return problem_response(status, detail, title=title, instance=request.url.path)
    heading, lead = ERROR_TEXT.get(status, (title or "Something went wrong", "The shop could not complete this request."))
    if status >= 500 and status != 503:
        heading, lead = ERROR_TEXT[503]
    return render(request, "error.html", {"status": status, "heading": heading, "lead": lead, "detail": detail, "peer": peer,
                                          "title": heading}, status=status if status < 500 else 503)


async def _on_problem(request: Request, exc: Problem) -> Response:
    return error_page(request, exc.status, exc.detail, exc.title, exc.extra.get("peer"))


async def _on_http(request: Request, exc: StarletteHTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code == 404:
        detail = f"There is no page at {request.url.path}."
    return error_page(request, exc.status_code, detail)


runtime.app.add_exception_handler(Problem, _on_problem)
runtime.app.add_exception_handler(StarletteHTTPException, _on_http)


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def gather(*calls):
    return await asyncio.gather(*calls)
