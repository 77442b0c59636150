"""api-gateway service."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import Annotated
from urllib.parse import quote

import aiohttp
from fastapi import Path, Query, Request
from fastapi.responses import Response

from services.common import context
from services.common.app import ServiceRuntime
from services.common.problems import Problem, problem_response

from .routing import RouteTable

log = logging.getLogger("netshop.gateway")
runtime = ServiceRuntime("api-gateway")
table = RouteTable(runtime.identity.model, runtime.name)
FORWARD_REQUEST = ("content-type", "accept", "idempotency-key")
FORWARD_RESPONSE = ("content-type", "cache-control", "retry-after", "idempotent-replayed", "location")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
VERIFY_CACHE_SECONDS = 10.0
_verified: OrderedDict[str, tuple[dict, float]] = OrderedDict()
_trace_http: dict[str, aiohttp.ClientSession] = {}


def _client_id(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for", "")
    return forwarded.split(",")[0].strip() or (request.client.host if request.client else "unknown")


async def _rate_limit(client: str) -> None:
    """Fixed-window counter per client in Redis; fails open if Redis is unreachable."""
    s = runtime.settings
    window = int(time.time() // s.rate_window_seconds)
    key = runtime.identity.key("rl", client, str(window))
    try:
        redis = runtime.require_redis()
        async with redis.pipeline(transaction=False) as pipe:
            count, _ = await pipe.incr(key).expire(key, s.rate_window_seconds + 1).execute()
    except Exception as exc:
        log.warning("rate limiter unavailable, letting the request through: %s", exc)
        return
    if count > s.rate_limit:
        retry = s.rate_window_seconds - int(time.time()) % s.rate_window_seconds
        raise Problem(429, f"More than {s.rate_limit} requests in {s.rate_window_seconds}s from this client.",
                      title="Too many requests", retry_after=retry, headers={"Retry-After": str(retry)})


async def _verify(authorization: str | None) -> dict:
    """Ask auth to verify the bearer token; cache the answer for a few seconds."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "This route needs `Authorization: Bearer <access token>`.", title="Unauthorized")
    token = authorization[7:].strip()
    digest = hashlib.sha256(token.encode()).hexdigest()
    now = time.monotonic()
    hit = _verified.get(digest)
    if hit and hit[1] > now:
        return hit[0]
    resp = await runtime.peers(table.verifier).post("/auth/verify", json={"token": token})
    if resp.status == 401 or resp.status == 422:
        body = resp.json() or {}
        raise Problem(401, body.get("detail", "The access token is not valid."), title="Invalid token", reason=body.get("reason"))
    claims = resp.expect(200)
    _verified[digest] = (claims, min(now + VERIFY_CACHE_SECONDS, now + max(0.0, claims["exp"] - time.time())))
    if len(_verified) > 10_000:
        _verified.popitem(last=False)
    return claims


@runtime.proxy_route("/api/{path:path}", methods=list(ALL_METHODS), summary="Route a public API call to the service that owns it")
async def route(request: Request, path: str) -> Response:
    service_path = "/" + path
    target, allowed = table.match(request.method, service_path)
    if target is None:
        if allowed:
            return problem_response(405, f"{request.method} is not allowed on /api{service_path}.", headers={"Allow": ", ".join(allowed)})
        raise Problem(404, f"No public route {request.method} /api{service_path}.", title="Not found")
    client = _client_id(request)
    headers = {h: request.headers[h] for h in FORWARD_REQUEST if h in request.headers}
    headers["X-Forwarded-For"] = client
    authorization = request.headers.get("authorization")
    if target.route.auth:
        claims = await _verify(authorization)
        context.user_id.set(claims["sub"])
        context.user_email.set(claims.get("email"))
        client = f"user:{claims['sub']}"
    else:
        context.user_id.set(None)
        context.user_email.set(None)
    await _rate_limit(client)
    if target.callee == table.verifier and authorization:
        headers["Authorization"] = authorization
    query = request.url.query
    body = await request.body()
    # re-encode the decoded path: a `?` or `#` the client sent inside a path segment must stay data
    forward = quote(service_path)
    resp = await runtime.peers(target.callee).request(
        request.method, forward + (f"?{query}" if query else ""), data=body or None, headers=headers
    )
    if request.method == "DELETE" and target.callee == table.verifier and authorization and resp.ok:
        # an account deleted through this gateway: its token stops working here at once, not after the cache
        _verified.pop(hashlib.sha256(authorization[7:].strip().encode()).hexdigest(), None)
    out = {h: resp.headers[h] for h in FORWARD_RESPONSE if h in resp.headers}
    out["X-NetShop-Upstream"] = target.callee
    if zone := resp.headers.get("x-netshop-zone"):
        out["X-NetShop-Upstream-Zone"] = zone
    return Response(resp.body, status_code=resp.status, headers=out)


# --------------------------------------------------------------------------- traces


async def _traces_session() -> aiohttp.ClientSession:
    if "s" not in _trace_http:
        _trace_http["s"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
    return _trace_http["s"]


@runtime.on_shutdown
async def _close(rt) -> None:
    if "s" in _trace_http:
        await _trace_http.pop("s").close()


def simplify(trace: dict) -> dict:
    """A Jaeger trace as a flat list of spans with service, zone and parent."""
    processes = trace.get("processes", {})
    spans = []
    for s in trace.get("spans", []):
        proc = processes.get(s.get("processID"), {})
        ptags = {t["key"]: t.get("value") for t in proc.get("tags", [])}
        tags = {t["key"]: t.get("value") for t in s.get("tags", [])}
        parent = next((r["spanID"] for r in s.get("references", []) if r.get("refType") == "CHILD_OF"), None)
        spans.append({
            "span_id": s["spanID"], "parent_id": parent, "service": proc.get("serviceName"), "zone": ptags.get("netshop.zone"),
            "name": s.get("operationName"), "kind": tags.get("span.kind"), "start_us": s.get("startTime"),
            "duration_us": s.get("duration"), "status": tags.get("http.response.status_code") or tags.get("http.status_code"),
            "peer": tags.get("peer.service"),
            "db_system": tags.get("db.system") or tags.get("db.system.name") or tags.get("messaging.system"),
        })
    spans.sort(key=lambda x: (x["start_us"] or 0, x["span_id"]))
    return {"trace_id": trace.get("traceID"), "services": sorted({s["service"] for s in spans if s["service"]}), "spans": spans}


async def _query(path: str, params: dict | None = None) -> dict:
    session = await _traces_session()
    try:
        async with session.get(runtime.settings.trace_query_url + path, params=params) as resp:
            if resp.status == 404:
                raise Problem(404, "No such trace (yet): spans arrive a moment after the request.", title="Unknown trace")
            if resp.status != 200:
                raise Problem(502, f"The trace backend answered {resp.status}.", title="Trace backend error")
            return await resp.json()
    except aiohttp.ClientError as exc:
        raise Problem(503, f"The trace backend is unreachable: {exc}.", title="Trace backend unavailable") from None


@runtime.app.get("/traces", summary="Recent traces seen at the gateway")
async def recent(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
    data = await _query("/api/traces", {"service": runtime.name, "limit": str(limit)})
    return {"traces": [{k: v for k, v in simplify(t).items() if k != "spans"} | {"spans": len(t.get("spans", []))} for t in data.get("data", [])]}


@runtime.app.get("/traces/{trace_id}", summary="The spans of one trace")
async def one(trace_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> dict:
    data = await _query(f"/api/traces/{trace_id}")
    traces = data.get("data") or []
    if not traces:
        raise Problem(404, "No such trace (yet).", title="Unknown trace")
    return simplify(traces[0])


app = runtime.app
