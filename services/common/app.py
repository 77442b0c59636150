"""A NetShop service: the FastAPI app plus everything the model says it has.

    runtime = ServiceRuntime("orders", migrations=Path(__file__).parent / "migrations")
    app = runtime.app

The runtime resolves the service from the model, opens exactly the datastores and broker its data
edges name (in the background, so an outage never crashes the process), builds the peer client for
its sync edges, and serves `/healthz`, `/readyz`, `/metrics` and problem+json errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from tenacity import AsyncRetrying, RetryCallState, wait_exponential
from opentelemetry.instrumentation.utils import suppress_instrumentation

from . import context, logs, metrics, problems, telemetry
from .client import Peers
from .faults import Faults, FaultSpec, points
from .identity import Identity
from .problems import Problem, problem_response
from .servicetoken import HEADER as TOKEN_HEADER
from .servicetoken import verify as verify_service_token
from .settings import Settings

log = logging.getLogger("netshop.service")
OPS_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/_ops/")
Hook = Callable[["ServiceRuntime"], Awaitable[None]]


class ServiceRuntime:
    """Identity, datastores, broker, peers and the ASGI app of one service."""

    def __init__(self, name: str, *, migrations: Path | None = None, description: str | None = None,
                 settings: Settings | None = None) -> None:
        self.settings = settings or Settings(service=name)  # type: ignore[call-arg]
        if self.settings.service != name:
            self.settings = self.settings.model_copy(update={"service": name})
        self.identity = Identity.load(self.settings)
        self.name = name
        self.migrations = migrations
        model = self.identity.model
        kinds = {d.kind for d in self.identity.datastores}
        self.needs = kinds
        self.peers = Peers(self.identity) if model.peers_of(name) else None
        self.db = None
        self.redis = None
        self.bus = None
        self.faults = Faults(self.settings.fault_injection, points(model, name))
        if self.peers is not None:
            self.peers.faults = self.faults
        self.started = time.time()
        self._ready: dict[str, bool] = {k: False for k in kinds}
        self._startup: list[Hook] = []
        self._after_ready: list[Hook] = []
        self._shutdown: list[Hook] = []
        self._tasks: list[asyncio.Task] = []
        self._callers = set(model.callers_of(name))
        self._edge_entry = name == model.platform.ingress.service
        self.app = FastAPI(
            title=f"NetShop {name}",
            description=description or self.identity.service.role,
            version=model.platform.version,
            lifespan=self._lifespan,
        )
        problems.install(self.app)
        self._install_ops_routes()
        self.app.add_middleware(_Middleware, runtime=self)
        # One server span per request: the ASGI "http send/receive" child spans cost more than the handler on
        # small requests (perf, bench/load.py) and the console hides them anyway.
        FastAPIInstrumentor.instrument_app(self.app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])

    # ----------------------------------------------------------------- hooks

    def on_startup(self, fn: Hook) -> Hook:
        """Run once at start, before the datastores are necessarily up."""
        self._startup.append(fn)
        return fn

    def when_ready(self, fn: Hook) -> Hook:
        """Run in the background once every datastore of the service is connected (consumers, relays)."""
        self._after_ready.append(fn)
        return fn

    def on_shutdown(self, fn: Hook) -> Hook:
        self._shutdown.append(fn)
        return fn

    def proxy_route(self, path: str, methods: list[str], summary: str) -> Callable[[Callable], Callable]:
        """Register one handler for several methods, one operation per method, so the OpenAPI
        document keeps unique operation ids (a multi-method `api_route` repeats one id)."""
        def register(fn: Callable) -> Callable:
            for method in methods:
                self.app.add_api_route(path, fn, methods=[method], summary=summary,
                                       operation_id=f"{fn.__name__}_{method.lower()}")
            return fn
        return register

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    # ----------------------------------------------------------------- datastores

    def require_db(self):
        if self.db is None:
            raise Problem(503, "PostgreSQL is not reachable yet; retry shortly.", title="Datastore unavailable")
        return self.db

    def require_redis(self):
        if self.redis is None or not self._ready.get("redis"):
            raise Problem(503, "Redis is not reachable yet; retry shortly.", title="Datastore unavailable")
        return self.redis

    async def _until_ready(self, kind: str, connect: Callable[[], Awaitable[Any]]) -> None:
        """Retry a datastore connection with capped exponential backoff until it works: an outage makes the
        service unready, never kills it."""

        def warn(state: RetryCallState) -> None:
            log.warning("%s not ready (%s); retrying in %.1fs", kind, state.outcome.exception(), state.upcoming_sleep)

        async for attempt in AsyncRetrying(wait=wait_exponential(multiplier=0.2, max=5), before_sleep=warn):
            with attempt:
                await connect()
        self._ready[kind] = True

    async def _connect_postgres(self) -> None:
        from . import db

        async def connect() -> None:
            with suppress_instrumentation():  # schema set-up is not traffic
                self.db = await db.connect(self.identity, self.migrations, min_size=self.settings.db_pool_min,
                                           max_size=self.settings.db_pool_max)

        await self._until_ready("postgres", connect)

    async def _connect_redis(self) -> None:
        from . import cache

        self.redis = cache.connect(self.identity)
        await self._until_ready("redis", self.redis.ping)

    async def _connect_bus(self) -> None:
        from .bus import Bus

        self.bus = Bus(self.identity)
        await self._until_ready("rabbitmq", self.bus.connect)

    async def readiness(self) -> dict[str, str]:
        """Probe each datastore the model gives this service (untraced: probes are not traffic)."""
        with suppress_instrumentation():
            return await self._readiness()

    async def _readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        if "postgres" in self.needs:
            try:
                if self.db is None:
                    raise ConnectionError("connecting")
                async with self.db.acquire(timeout=1) as conn:
                    await conn.fetchval("SELECT 1")
                checks["postgres"] = "ok"
            except Exception as exc:
                checks["postgres"] = f"down: {exc}"
        if "redis" in self.needs:
            try:
                if self.redis is None:
                    raise ConnectionError("connecting")
                await asyncio.wait_for(self.redis.ping(), 1)
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"down: {exc}"
        if "rabbitmq" in self.needs:
            checks["rabbitmq"] = "ok" if self.bus is not None and self.bus.connected else "down: not connected"
        return checks

    # ----------------------------------------------------------------- lifecycle

    @asynccontextmanager
    async def _lifespan(self, app: FastAPI):
        logs.setup(self.name, self.identity.zone, self.settings.log_level)
        telemetry.setup(self.name, self.identity.zone, self.identity.instance, set(self.needs))
        if self.peers is not None:
            await self.peers.start()
        for hook in self._startup:
            await hook(self)
        connectors = []
        if "postgres" in self.needs:
            connectors.append(self._connect_postgres())
        if "redis" in self.needs:
            connectors.append(self._connect_redis())
        if "rabbitmq" in self.needs:
            connectors.append(self._connect_bus())

        async def connect_then_run() -> None:
            await asyncio.gather(*connectors)
            log.info("connected to %s", ", ".join(sorted(self.needs)) or "nothing")
            for hook in self._after_ready:
                await hook(self)

        self.spawn(connect_then_run(), "connect")
        log.info("%s listening on port %s in %s", self.name, self.identity.port, self.identity.zone)
        try:
            yield
        finally:
            log.info("%s shutting down", self.name)
            for hook in self._shutdown:
                try:
                    await hook(self)
                except Exception:
                    log.exception("shutdown hook failed")
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.bus is not None:
                await self.bus.close()
            if self.db is not None:
                await self.db.close()
            if self.redis is not None:
                await self.redis.aclose()
            if self.peers is not None:
                await self.peers.close()
            telemetry.shutdown()

    # ----------------------------------------------------------------- operational routes

    def _install_ops_routes(self) -> None:
        app = self.app

        @app.get("/healthz", tags=["ops"], summary="Liveness")
        async def healthz() -> dict:
            return {
                "status": "ok", "service": self.name, "zone": self.identity.zone, "instance": self.identity.instance,
                "version": self.identity.model.platform.version, "uptime_seconds": round(time.time() - self.started, 1),
            }

        @app.get("/readyz", tags=["ops"], summary="Readiness: own datastores and broker reachable")
        async def readyz() -> Response:
            checks = await self.readiness()
            if all(v == "ok" for v in checks.values()):
                return JSONResponse({"status": "ready", "service": self.name, "zone": self.identity.zone, "checks": checks})
            return problem_response(503, "Not ready: " + ", ".join(k for k, v in checks.items() if v != "ok") + ".",
                                    title="Not ready", checks=checks, service=self.name, zone=self.identity.zone)

        @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
        async def prometheus() -> Response:
            body, ctype = metrics.exposition()
            return Response(body, media_type=ctype)

        if self.settings.fault_injection:

            @app.get("/_ops/faults", tags=["ops"], include_in_schema=False)
            async def list_faults() -> dict:
                return {"points": self.faults.known, "active": [s.model_dump() for s in self.faults.active.values()]}

            @app.put("/_ops/faults", tags=["ops"], include_in_schema=False)
            async def set_fault(spec: FaultSpec) -> dict:
                try:
                    self.faults.set(spec)
                except KeyError:
                    raise Problem(422, f"Unknown fault point {spec.point!r}.", points=self.faults.known) from None
                return {"active": [s.model_dump() for s in self.faults.active.values()]}

            @app.delete("/_ops/faults", tags=["ops"], include_in_schema=False)
            async def clear_faults(point: str | None = None) -> dict:
                self.faults.clear(point)
                return {"active": [s.model_dump() for s in self.faults.active.values()]}


class _Middleware:
    """Request ids, user context, service identity, body limits, RED metrics and error logging (pure ASGI)."""

    def __init__(self, app, runtime: ServiceRuntime) -> None:
        self.app = app
        self.rt = runtime
        self.service = runtime.name
        self.zone = runtime.identity.zone
        self.max_body = runtime.settings.max_body_bytes
        self.enforce = runtime.settings.service_identity
        self.secret = runtime.settings.identity_secret.get_secret_value()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id") or uuid.uuid4().hex
        context.request_id.set(rid)
        context.user_id.set(headers.get("x-user-id"))
        context.user_email.set(headers.get("x-user-email"))
        context.caller.set(headers.get("x-netshop-caller"))
        ops = path.startswith(OPS_PATHS)
        start = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["sent"] = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-request-id", rid.encode()), (b"x-netshop-service", self.service.encode()), (b"x-netshop-zone", self.zone.encode()),
                ]
            await send(message)

        refusal = None if ops else self._refusal(headers)
        if refusal is not None:
            await refusal(scope, receive, send_wrapper)
        else:
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                await problem_response(413, f"Request body of {length} bytes exceeds the {self.max_body}-byte limit.",
                                       title="Payload too large")(scope, receive, send_wrapper)
            else:
                started = status_holder
                try:
                    await self.app(scope, _limited(receive, self.max_body), send_wrapper)
                except _BodyTooLarge:
                    await problem_response(413, f"Request body exceeds the {self.max_body}-byte limit.",
                                           title="Payload too large")(scope, receive, send_wrapper)
                except Exception:
                    # Nothing unhandled leaves as a bare 500: log it with the trace id and answer problem+json.
                    log.exception("unhandled error on %s %s", scope["method"], path)
                    if not started.get("sent"):
                        await problem_response(500, "The service hit an unexpected error; it is logged with this request's trace id.",
                                               instance=path)(scope, receive, send_wrapper)
        if not ops:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            status = status_holder["status"]
            metrics.http_requests.labels(self.service, template, scope["method"], str(status), self.zone).inc()
            metrics.http_duration.labels(self.service, template, scope["method"], self.zone).observe(time.perf_counter() - start)
            if status >= 500:
                log.warning("%s %s -> %s", scope["method"], template, status)

    def _refusal(self, headers: dict[str, str]):
        """With service identity on, only callers the model declares may call (the ingress target is open)."""
        if not self.enforce or self.rt._edge_entry:
            return None
        token = headers.get(TOKEN_HEADER.lower())
        if not token:
            return problem_response(401, "A service identity token is required for east/west calls.", title="Service identity required")
        try:
            caller = verify_service_token(token, self.service, self.secret)
        except jwt.InvalidTokenError as exc:
            return problem_response(401, f"Invalid service identity token: {exc}.", title="Service identity rejected")
        if caller not in self.rt._callers:
            return problem_response(403, f"{caller} has no edge to {self.service} in the model.", title="Undeclared caller", caller=caller)
        context.caller.set(caller)
        return None


class _BodyTooLarge(StarletteHTTPException):
    """Raised while a body without Content-Length streams past the limit; an HTTPException so that
    FastAPI's body parsing re-raises it (as a 413 problem) instead of calling it a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds the {limit}-byte limit.")


def _limited(receive, limit: int):
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge(limit)
        return message

    return wrapped


def current_user(request: Request) -> str:
    """The verified user id the gateway forwarded; 401 if the route is reached without one."""
    uid = context.user_id.get()
    if not uid:
        raise Problem(401, "Sign in first: this route needs a valid access token.", title="Unauthorized")
    return uid


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)
