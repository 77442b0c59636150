"""RFC 9457 problem details: every error leaves a service as `application/problem+json`."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("netshop.problems")
PROBLEM = "application/problem+json"


class Problem(Exception):
    """An error with an HTTP status and a human explanation, rendered as problem+json."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, type_: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.headers = headers
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_ or f"https://netshop.example/problems/{self.title.lower().replace(' ', '-')}"
        self.extra = extra


def problem_response(status: int, detail: str, *, title: str | None = None, type_: str | None = None,
                     instance: str | None = None, headers: dict | None = None, **extra: Any) -> Response:
    title = title or HTTPStatus(status).phrase
    body = {
        "type": type_ or f"https://netshop.example/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        **({"instance": instance} if instance else {}),
        **extra,
    }
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return f"{where}.{'.'.join(rest)}" if rest else where
    return ".".join(parts)


def install(app: FastAPI) -> None:
    """Register handlers so nothing leaves as a bare error page or an HTML 500."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc.status, exc.detail, title=exc.title, type_=exc.type, instance=request.url.path,
                                headers=exc.headers, **exc.extra)

    from .faults import FaultInjected

    @app.exception_handler(FaultInjected)
    async def _fault(request: Request, exc: FaultInjected) -> Response:
        return problem_response(503, str(exc), title="Fault injected", instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(400, "The request body is not valid JSON.", title="Malformed JSON",
                                    instance=request.url.path, errors=errors)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(422, f"Invalid input in {fields}.", title="Validation failed",
                                instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route {request.method} {request.url.path}."
        return problem_response(exc.status_code, detail, instance=request.url.path, headers=getattr(exc, "headers", None))

    import asyncpg

    @app.exception_handler(asyncpg.DataError)
    async def _data(request: Request, exc: asyncpg.DataError) -> Response:
        # A value the schema let through but PostgreSQL cannot hold (a NUL character, an integer beyond
        # 64 bits): the client's input is wrong, not the service.
        log.info("refused a value PostgreSQL cannot hold on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(422, "A value is outside what the store accepts (a NUL character, or a number beyond 64 bits).",
                                title="Validation failed", instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "The service hit an unexpected error; it has been logged with this request's trace id.",
                                instance=request.url.path)
