"""The model-driven HTTP client: `peers("products").get("/products/42")`.

A peer is reachable only through a sync edge the model declares, and only on the routes that edge
grants. Calls carry the request id, the verified user and a service-identity token; they have
timeouts, bounded retries with jittered backoff for idempotent routes only, and a circuit breaker
per peer (purgatory). aiohttp is used because it measured several times cheaper per hop than httpx
on this kind of machine (bench/client_hop.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from model.schema import Route

from . import context, metrics
from .faults import FaultInjected
from .identity import Identity
from .problems import Problem
from .servicetoken import HEADER as TOKEN_HEADER
from .servicetoken import ServiceTokens

RETRYABLE_STATUS = {502, 503, 504}


class UndeclaredCallError(RuntimeError):
    """A call the model does not declare: the peer is not an edge of this service, or the route is not granted."""


class PeerUnavailable(Problem):
    def __init__(self, peer: str, why: str) -> None:
        super().__init__(503, f"{peer} is unavailable: {why}.", title="Dependency unavailable", peer=peer)


class _Transient(Exception):
    """A failure worth retrying (connection error, timeout, 502/503/504)."""

    def __init__(self, response: PeerResponse | None = None, cause: BaseException | None = None) -> None:
        super().__init__(str(cause) if cause else f"status {response.status if response else '?'}")
        self.response, self.cause = response, cause


class _ServerError(Exception):
    """A 5xx that is not retried but still counts against the breaker."""

    def __init__(self, response: PeerResponse) -> None:
        super().__init__(f"status {response.status}")
        self.response = response


class PeerResponse:
    __slots__ = ("status", "headers", "body", "peer")

    def __init__(self, peer: str, status: int, headers: Any, body: bytes) -> None:
        self.peer, self.status, self.headers, self.body = peer, status, headers, body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    def expect(self, *statuses: int) -> Any:
        """The JSON body if the status is expected; otherwise a Problem that relays the peer's answer
        (its title, detail and extra fields; a peer's 5xx becomes a 502)."""
        if self.status in statuses:
            return self.json()
        body: dict = {}
        try:
            parsed = self.json()
            body = parsed if isinstance(parsed, dict) else {}
        except orjson.JSONDecodeError:
            pass
        detail = body.get("detail")
        extra = {k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "instance")}
        extra["peer"] = self.peer
        if self.status >= 500:
            raise Problem(502, f"{self.peer} failed with {self.status}" + (f": {detail}" if detail else "."), title="Bad gateway", **extra)
        raise Problem(self.status, detail or f"{self.peer} answered {self.status}.", title=body.get("title"), **extra)


class Peers:
    """One shared connection pool and one breaker per peer, for the declared edges of this service."""

    def __init__(self, identity: Identity, *, timeout: float = 5.0, attempts: int = 3, breaker_threshold: int = 5,
                 breaker_ttl: float = 10.0) -> None:
        self.identity = identity
        self.me = identity.name
        self.timeout = timeout
        self.attempts = attempts
        self.breakers = AsyncCircuitBreakerFactory(default_threshold=breaker_threshold, default_ttl=breaker_ttl)
        self.tokens = ServiceTokens(self.me, identity.settings.identity_secret.get_secret_value())
        self.grants: dict[str, list[Route]] = {
            e.callee: identity.model.routes_of_edge(e) for e in identity.model.sync_edges if e.caller == self.me
        }
        self.session: aiohttp.ClientSession | None = None
        self._peers: dict[str, Peer] = {}
        self.faults = None  # the runtime's Faults: `call:<me>-><peer>` points act like a failing or slow peer

    async def start(self) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, limit_per_host=128, keepalive_timeout=30, ttl_dns_cache=60),
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=1.0),
                json_serialize=lambda o: orjson.dumps(o).decode(),
                auto_decompress=True,
            )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    def __call__(self, name: str) -> Peer:
        peer = self._peers.get(name)
        if peer is None:
            if name not in self.grants:
                raise UndeclaredCallError(
                    f"{self.me} has no sync edge to {name!r} in the model; declared peers: {', '.join(sorted(self.grants)) or 'none'}"
                )
            peer = self._peers[name] = Peer(self, name)
        return peer


class Peer:
    """Calls to one declared peer."""

    def __init__(self, peers: Peers, name: str) -> None:
        self.peers, self.name = peers, name
        self.base = peers.identity.peer_base_url(name)
        self.routes = peers.grants[name]

    def route_for(self, method: str, path: str) -> Route:
        bare = path.split("?", 1)[0]
        for route in self.routes:
            if route.matches(method, bare):
                return route
        raise UndeclaredCallError(
            f"{self.peers.me} -> {self.name}: {method} {bare} is not granted by the model edge "
            f"(granted: {', '.join(r.ref for r in self.routes)})"
        )

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"X-NetShop-Caller": self.peers.me, TOKEN_HEADER: self.peers.tokens.for_peer(self.name)}
        if rid := context.request_id.get():
            headers["X-Request-Id"] = rid
        if uid := context.user_id.get():
            headers["X-User-Id"] = uid
        if email := context.user_email.get():
            headers["X-User-Email"] = email
        if extra:
            headers.update(extra)
        return headers

    async def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                      params: Any = None, headers: dict[str, str] | None = None, timeout: float | None = None,
                      retry: bool | None = None) -> PeerResponse:
        """Send one call; retried only when the route is idempotent (or carries an Idempotency-Key)."""
        route = self.route_for(method, path)
        all_headers = self._headers(headers)
        retryable = route.safe_to_retry or "Idempotency-Key" in all_headers if retry is None else retry
        attempts = self.peers.attempts if retryable else 1
        body = orjson.dumps(json) if json is not None else data
        if json is not None:
            all_headers.setdefault("Content-Type", "application/json")
        try:
            # The first attempt goes without tenacity: building its retry loop cost ~0.1 ms a call, and nearly every
            # call succeeds first time (perf, bench/load.py). Retries keep the loop and its jittered backoff.
            try:
                return await self._once(method, path, body, params, all_headers, timeout)
            except _Transient:
                if attempts == 1:
                    raise
            await asyncio.sleep(0.05)  # then tenacity's jittered backoff between the remaining attempts
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(attempts - 1),
                wait=wait_exponential_jitter(multiplier=0.05, max=0.5),
                retry=retry_if_exception_type(_Transient),
                reraise=True,
            ):
                with attempt:
                    return await self._once(method, path, body, params, all_headers, timeout)
        except _Transient as exc:
            if exc.response is not None:
                return exc.response
            raise PeerUnavailable(self.name, str(exc.cause or exc)) from None
        except _ServerError as exc:
            return exc.response
        except OpenedState:
            metrics.client_requests.labels(self.peers.me, self.name, "circuit-open").inc()
            raise PeerUnavailable(self.name, "circuit open after repeated failures") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, path: str, body: bytes | None, params: Any, headers: dict[str, str],
                    timeout: float | None) -> PeerResponse:
        session = self.peers.session
        if session is None:
            raise PeerUnavailable(self.name, "client not started")
        breaker = await self.peers.breakers.get_breaker(self.name)
        start = time.perf_counter()
        status = "error"
        try:
            async with breaker:
                try:
                    if self.peers.faults is not None:
                        async with asyncio.timeout(timeout or self.peers.timeout):
                            await self.peers.faults.hit(f"call:{self.peers.me}->{self.name}")
                    async with session.request(
                        "GET" if method == "ANY" else method, self.base + path, data=body, params=params, headers=headers,
                        # an explicit None would switch aiohttp's timeout off: without one, the session's applies
                        timeout=aiohttp.ClientTimeout(total=timeout) if timeout else session.timeout, allow_redirects=False,
                    ) as resp:
                        payload = await resp.read()
                        result = PeerResponse(self.name, resp.status, resp.headers, payload)
                except (aiohttp.ClientError, TimeoutError, FaultInjected) as exc:
                    raise _Transient(cause=exc) from exc
                status = str(result.status)
                if result.status in RETRYABLE_STATUS:
                    raise _Transient(response=result)
                if result.status >= 500:
                    raise _ServerError(result)
                return result
        finally:
            metrics.client_requests.labels(self.peers.me, self.name, status).inc()
            metrics.client_duration.labels(self.peers.me, self.name).observe(time.perf_counter() - start)

    async def get(self, path: str, **kw: Any) -> PeerResponse:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> PeerResponse:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> PeerResponse:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> PeerResponse:
        return await self.request("DELETE", path, **kw)
