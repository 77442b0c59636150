"""Load and footprint of the local platform, measured side by side in one run (`make bench`).

Phases, each bounded in time, against a platform this module starts itself (own port offset,
database, vhost and key prefix, like the test fixture):

1. start-up: supervisord start to every service ready, and the idle footprint (RSS and PSS of every
   supervised process);
2. gateway overhead: the same backend route called directly and through the gateway, alternately,
   at concurrency 1;
3. raw limit: one PostgreSQL transaction (order row + outbox row) plus one confirmed publish to a
   durable quorum queue, in a tight loop at the checkout phase's concurrency;
4. checkout: the same number of shoppers each looping add-to-cart -> checkout through the gateway;
5. fan-out: `order.created` published as the outbox relay publishes it (the orders service's
   Bus, confirms on) at a fixed rate; lag from publish to the slowest worker's effect;
6. journey: a weighted user journey taken from the model's flows (browse, search, product page,
   add to cart, checkout) by N concurrent users; per-step throughput, p50/p95/p99 and errors, and
   the platform's peak footprint while under load.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from model import load_model
from model.schema import NetShopModel
from netshop import local
from netshop.results import Check, at_least, at_most, below, equals, percentile

TEST_CARD = "4242424242424242"
PASSWORD = "a long enough password"
GIB = 1024**3
GATEWAY = "api-gateway"  # the model service that routes /api (the test fixture names it the same way)


# --------------------------------------------------------------------------- statistics


@dataclass
class Samples:
    """Latencies (seconds) and outcomes of one step."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def ok(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def fail(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] += 1

    @property
    def count(self) -> int:
        return len(self.latencies) + self.errors

    def summary(self, wall_s: float) -> dict[str, float]:
        """Throughput over the phase's wall time, percentiles in ms, and the error rate."""
        ms = [x * 1000 for x in self.latencies]
        return {
            "requests": self.count,
            "per_s": round(len(self.latencies) / wall_s, 2) if wall_s > 0 else 0.0,
            "p50_ms": round(percentile(ms, 50), 2),
            "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2),
            "error_rate": round(self.errors / self.count, 4) if self.count else 0.0,
        }


# --------------------------------------------------------------------------- the journey, from the model


@dataclass(frozen=True)
class Step:
    """One step of the user journey: which model flow it exercises, its weight, and the gateway calls it makes."""

    name: str
    flow: str
    weight: int
    calls: tuple[tuple[str, str], ...]  # (method, /api path template)


JOURNEY = (
    Step("browse", "edge-path", 30, (("GET", "/api/products"),)),
    Step("search", "search", 20, (("GET", "/api/search"),)),
    Step("product_page", "recommendations", 25, (("GET", "/api/recommendations/{product_id}"), ("GET", "/api/products/{product_id}"),
                                                 ("GET", "/api/reviews/{product_id}"))),
    Step("add_to_cart", "browse-and-basket", 15, (("POST", "/api/cart/items"),)),
    Step("checkout", "checkout-saga", 10, (("POST", "/api/orders/checkout"),)),
)


def journey_from_model(model: NetShopModel) -> tuple[Step, ...]:
    """The journey's steps, each checked against the model: its flow exists and has the gateway call the step
    starts with, and every call the step makes is a public route behind the gateway. A renamed flow or route
    fails here, before any load is sent."""
    flows = {f.name: f for f in model.flows}
    public = {(r.method, "/api" + r.path) for e in model.sync_edges if e.caller == GATEWAY
              for r in model.routes_of_edge(e) if r.public}
    for step in JOURNEY:
        flow = flows.get(step.flow)
        if flow is None:
            raise ValueError(f"journey step {step.name!r} names flow {step.flow!r}, which model/netshop.yaml lacks")
        gateway_calls = {"/api" + " ".join(s.route.split()[1:]) for s in flow.steps if s.source == GATEWAY and s.route}
        if step.calls[0][1] not in gateway_calls:
            raise ValueError(f"journey step {step.name!r}: flow {step.flow!r} has no gateway call to {step.calls[0][1]}")
        for method, path in step.calls:
            if (method, path) not in public:
                raise ValueError(f"journey step {step.name!r}: {method} {path} is not a public gateway route of the model")
    return JOURNEY


# --------------------------------------------------------------------------- the platform under test


def bench_run(run_dir: Path, extra_env: dict[str, str] | None = None) -> local.Run:
    offset = local.reserve_offset()
    tag = f"b{os.getpid()}"
    run = local.Run(offset=offset, database=f"netshop_bench_{tag}", vhost=f"netshop_bench_{tag}", key_prefix=f"nsbench-{tag}",
                    run_dir=run_dir, extra_env=dict(extra_env or {}))
    return run


def supervised_pids(run: local.Run) -> list[int]:
    """supervisord and every process below it."""
    try:
        root = int((run.run_dir / "supervisord.pid").read_text().strip())
    except (OSError, ValueError):
        return []
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children[ppid].append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(out)


def footprint(run: local.Run) -> dict[str, float]:
    """Resident memory of the whole platform: RSS summed over every supervised process (counts shared pages
    once per process, the conservative figure) and PSS (shared pages divided among their users)."""
    rss = pss = 0
    pids = supervised_pids(run)
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return {"processes": len(pids), "rss_bytes": rss, "pss_bytes": pss}


# --------------------------------------------------------------------------- clients


class Shopper:
    """One virtual user: its own client address (the gateway rate-limits per client), token and basket."""

    def __init__(self, session: aiohttp.ClientSession, base: str, n: int) -> None:
        self.session, self.base = session, base
        self.address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        self.headers = {"X-Forwarded-For": self.address}
        self.basket = 0
        self.traced = True

    def _trace_header(self) -> dict[str, str]:
        """An untraced shopper sends a W3C parent marked not-sampled: the services' parent-based sampler then
        records nothing for the whole request, down to the workers (tracing cost, measured side by side)."""
        if self.traced:
            return {}
        return {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"}

    async def call(self, method: str, path: str, samples: Samples | None, *, json: Any = None, expect: tuple[int, ...] = (200,),
                   headers: dict[str, str] | None = None) -> Any:
        start = time.perf_counter()
        try:
            async with self.session.request(method, self.base + path, data=orjson.dumps(json) if json is not None else None,
                                            headers={**self.headers, **({"Content-Type": "application/json"} if json is not None else {}),
                                                     **self._trace_header(), **(headers or {})}) as r:
                body = await r.read()
                if r.status not in expect:
                    if samples is not None:
                        samples.fail(f"{method} {path.split('?')[0]} -> {r.status}")
                    return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            if samples is not None:
                samples.fail(f"{method} {path.split('?')[0]} -> {type(exc).__name__}")
            return None
        if samples is not None:
            samples.ok(time.perf_counter() - start)
        return orjson.loads(body) if body else {}

    async def sign_up(self) -> None:
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        reg = await self.call("POST", "/api/auth/register", None, json={"email": email, "password": PASSWORD, "name": "Bench"},
                              expect=(201,))
        tok = await self.call("POST", "/api/auth/login", None, json={"email": email, "password": PASSWORD})
        if reg is None or tok is None:
            raise RuntimeError(f"could not register a bench shopper at {self.base}")
        self.headers["Authorization"] = f"Bearer {tok['access_token']}"

    async def add_to_cart(self, product: str, samples: Samples | None) -> bool:
        ok = await self.call("POST", "/api/cart/items", samples, json={"product_id": product, "quantity": 1}, expect=(201,))
        if ok is not None:
            self.basket += 1
        return ok is not None

    async def checkout(self, samples: Samples | None) -> bool:
        ok = await self.call("POST", "/api/orders/checkout", samples, json={"card_number": TEST_CARD}, expect=(201,),
                             headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"})
        if ok is not None:
            self.basket = 0
        return ok is not None


def session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=30),
                                 timeout=aiohttp.ClientTimeout(total=30))


async def catalogue(http: aiohttp.ClientSession, gateway: str) -> tuple[list[str], list[str]]:
    """Product ids and search words from the running catalogue."""
    async with http.get(gateway + "/api/products?limit=100") as r:
        items = (await r.json())["items"]
    words = sorted({w.lower() for i in items for w in i["name"].split() if len(w) > 3})
    return [i["id"] for i in items], words or ["shirt"]


async def shoppers(http: aiohttp.ClientSession, gateway: str, n: int, first: int = 1) -> list[Shopper]:
    """n signed-in shoppers (registration hashes a password with argon2, so sign-ups run a few at a time)."""
    users = [Shopper(http, gateway, first + i) for i in range(n)]
    sem = asyncio.Semaphore(4)

    async def one(u: Shopper) -> None:
        async with sem:
            await u.sign_up()

    await asyncio.gather(*(one(u) for u in users))
    return users


# --------------------------------------------------------------------------- phases


async def gateway_overhead(http: aiohttp.ClientSession, gateway: str, direct: str, product: str, requests: int) -> dict[str, float]:
    """GET /products/{id} straight from products and GET /api/products/{id} through the gateway, alternately,
    one at a time, so both see the same machine at the same moment."""
    via, straight = Samples(), Samples()
    u = Shopper(http, gateway, 250_000)
    d = Shopper(http, direct, 250_001)
    for _ in range(10):  # warm both paths (connections, caches)
        await u.call("GET", f"/api/products/{product}", None)
        await d.call("GET", f"/products/{product}", None)
    for i in range(requests):
        pair = [(u, f"/api/products/{product}", via), (d, f"/products/{product}", straight)]
        if i % 2:
            pair.reverse()
        for who, path, samples in pair:
            await who.call("GET", path, samples)
    g, s = via.summary(1), straight.summary(1)
    return {"gateway_p50_ms": g["p50_ms"], "direct_p50_ms": s["p50_ms"], "gateway_p95_ms": g["p95_ms"], "direct_p95_ms": s["p95_ms"],
            "gateway_overhead_p50_ms": round(g["p50_ms"] - s["p50_ms"], 2),
            "gateway_overhead_p95_ms": round(g["p95_ms"] - s["p95_ms"], 2),
            "gateway_vs_direct_p50_ratio": round(g["p50_ms"] / s["p50_ms"], 2) if s["p50_ms"] else 0.0,
            "gateway_overhead_errors": via.errors + straight.errors}


async def raw_limit(run: local.Run, model: NetShopModel, concurrency: int, seconds: float) -> dict[str, float]:
    """The floor a checkout cannot beat: per order one PostgreSQL transaction (order row + outbox row, fsync on)
    and one publish confirmed by the broker into a durable quorum queue, in a tight loop."""
    import aio_pika
    import asyncpg

    pg = next(d for d in model.datastores if d.kind == "postgres")
    mq = next(d for d in model.datastores if d.kind == "rabbitmq")
    pool = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{pg.port}/{run.database}", min_size=concurrency,
                                     max_size=concurrency)
    url = run.extra_env.get(f"NETSHOP_{mq.name.upper()}_URL", f"amqp://guest:guest@127.0.0.1:{mq.port}/{run.vhost}")
    conn = await aio_pika.connect_robust(url)
    try:
        async with pool.acquire() as c:
            await c.execute("""CREATE SCHEMA IF NOT EXISTS bench;
                CREATE TABLE IF NOT EXISTS bench.raw_orders (id uuid PRIMARY KEY, user_id uuid NOT NULL, total_minor integer NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now());
                CREATE TABLE IF NOT EXISTS bench.raw_outbox (id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
                    payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp(), sent_at timestamptz)""")
        channel = await conn.channel(publisher_confirms=True)
        queue = await channel.declare_queue("bench.raw-limit", durable=True, arguments={"x-queue-type": "quorum"})
        samples = Samples()
        deadline = time.perf_counter() + seconds

        async def loop() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                order, event = uuid.uuid4(), uuid.uuid4()
                payload = orjson.dumps({"event_id": str(event), "order_id": str(order), "total_minor": 1999}).decode()
                try:
                    async with pool.acquire() as c, c.transaction():
                        await c.execute("INSERT INTO bench.raw_orders (id, user_id, total_minor) VALUES ($1, $2, 1999)", order, order)
                        await c.execute("INSERT INTO bench.raw_outbox (event_id, payload) VALUES ($1, $2::jsonb)", event, payload)
                    await channel.default_exchange.publish(
                        aio_pika.Message(payload.encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(event)),
                        routing_key=queue.name, timeout=5)
                except Exception as exc:  # noqa: BLE001 — counted, not hidden
                    samples.fail(type(exc).__name__)
                    continue
                samples.ok(time.perf_counter() - start)

        t0 = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
        await queue.delete(if_unused=False, if_empty=False)
        s = samples.summary(wall)
        return {"raw_per_s": s["per_s"], "raw_p50_ms": s["p50_ms"], "raw_p95_ms": s["p95_ms"], "raw_errors": samples.errors}
    finally:
        await conn.close()
        async with pool.acquire() as c:
            await c.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        await pool.close()


async def checkout_phase(users: list[Shopper], products: list[str], seconds: float, slices: int = 4
                         ) -> tuple[dict[str, float], Samples, Samples]:
    """Every shopper loops add-to-cart -> checkout; checkouts per second. The phase alternates traced and untraced
    slices (every request traced, as `make up` runs, then none), so tracing's cost is measured side by side."""
    adds = Samples()
    runs: dict[bool, list[tuple[Samples, float]]] = {True: [], False: []}

    async def loop(u: Shopper, deadline: float, done: Samples) -> None:
        rng = random.Random(u.address)
        while time.perf_counter() < deadline:
            if u.basket == 0 and not await u.add_to_cart(rng.choice(products), adds):
                await asyncio.sleep(0.1)  # a failing platform is reported, not hammered
                continue
            if not await u.checkout(done):
                await asyncio.sleep(0.1)

    for k in range(slices):
        traced = k % 2 == 0
        for u in users:
            u.traced = traced
        done = Samples()
        t0 = time.perf_counter()
        await asyncio.gather(*(loop(u, t0 + seconds / slices, done) for u in users))
        runs[traced].append((done, time.perf_counter() - t0))
    for u in users:
        u.traced = True

    def merged(traced: bool) -> tuple[Samples, float]:
        all_ = Samples(latencies=[x for smp, _ in runs[traced] for x in smp.latencies], errors=sum(smp.errors for smp, _ in runs[traced]))
        return all_, sum(w for _, w in runs[traced])

    checkouts, wall = merged(True)
    bare, bare_wall = merged(False)
    c, u = checkouts.summary(wall), bare.summary(bare_wall)
    return ({"checkout_per_s": c["per_s"], "checkout_p50_ms": c["p50_ms"], "checkout_p95_ms": c["p95_ms"],
             "checkout_p99_ms": c["p99_ms"], "checkout_error_rate": c["error_rate"],
             "checkout_untraced_per_s": u["per_s"], "checkout_untraced_p50_ms": u["p50_ms"],
             "checkout_untraced_error_rate": u["error_rate"],
             "tracing_cost_ratio": round(u["per_s"] / c["per_s"], 2) if c["per_s"] else 0.0,
             "checkout_add_to_cart_p50_ms": adds.summary(wall + bare_wall)["p50_ms"]}, checkouts, adds)


async def fanout_lag(run: local.Run, model: NetShopModel, products: list[str], rate: float, seconds: float,
                     settle: float = 15.0) -> dict[str, float]:
    """Publish `order.created` at `rate`/s through the orders service's own Bus (the relay's publish, confirms on)
    and time, per event, the moment each worker's effect is visible; the lag is to the slowest of them.

    PostgreSQL workers record `processed_at` (their effect's transaction); the Redis worker's marker is polled
    every 5 ms, so its times are late by at most that."""
    import asyncpg
    import redis.asyncio as aioredis

    from services.common.bus import Bus
    from services.common.identity import Identity
    from services.common.settings import Settings

    event = next(e for e in model.events if e.name == "order.created")
    workers = sorted({s.consumer for s in event.subscriptions})
    settings = Settings(service=event.producer, port_offset=run.offset, postgres_database=run.database, rabbitmq_vhost=run.vhost,
                        key_prefix=run.key_prefix)
    identity = Identity.load(settings)
    bus = Bus(identity)
    await bus.connect()
    pg = next(d for d in model.datastores if d.kind == "postgres")
    rd = next(d for d in model.datastores if d.kind == "redis")
    db = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/{run.database}")
    redis = aioredis.Redis(host="127.0.0.1", port=rd.port)
    pg_workers = [w for w in workers if any(d.kind == "postgres" for d in model.datastores_of(w))]
    redis_workers = [w for w in workers if w not in pg_workers]
    published: dict[str, float] = {}
    seen_redis: dict[str, float] = {}
    errors = 0
    stop = asyncio.Event()

    async def poll_redis() -> None:
        while not stop.is_set():
            pending = [e for e in published if e not in seen_redis]
            if pending:
                for w in redis_workers:
                    keys = [f"{run.key_prefix}:{w}:processed:{e}" for e in pending]
                    now = time.time()
                    for e, hit in zip(pending, await _exists_many(redis, keys), strict=True):
                        if hit:
                            seen_redis[e] = now
            await asyncio.sleep(0.005)

    poller = asyncio.create_task(poll_redis())
    user = str(uuid.uuid4())
    try:
        interval = 1 / rate
        n = int(rate * seconds)
        t0 = time.perf_counter()
        for i in range(n):
            await asyncio.sleep(max(0.0, t0 + i * interval - time.perf_counter()))
            eid, oid = str(uuid.uuid4()), str(uuid.uuid4())
            pid = products[i % len(products)]
            payload = {"event_id": eid, "order_id": oid, "user_id": user, "email": "bench@example.com", "total_minor": 1999,
                       "currency": "EUR", "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "lines": [{"product_id": pid, "name": pid, "quantity": 1, "unit_price_minor": 1999}]}
            published[eid] = time.time()
            try:
                await bus.publish(event.name, payload, message_id=eid)
            except Exception:  # noqa: BLE001 — counted as a publish error
                errors += 1
                published.pop(eid)
        achieved = n / (time.perf_counter() - t0)
        deadline = time.monotonic() + settle
        effects: dict[str, dict[str, float]] = {}
        while time.monotonic() < deadline:
            effects = {}
            for w in pg_workers:
                rows = await db.fetch(f'SELECT event_id::text AS e, extract(epoch FROM processed_at) AS t FROM "{w}".processed_events '
                                      "WHERE event_id = ANY($1::uuid[])", list(published))
                effects[w] = {r["e"]: float(r["t"]) for r in rows}
            if all(len(v) == len(published) for v in effects.values()) and len(seen_redis) == len(published):
                break
            await asyncio.sleep(0.2)
        for w in redis_workers:
            effects[w] = dict(seen_redis)
        lags, missing = [], 0
        slowest: dict[str, int] = defaultdict(int)
        for eid, t in published.items():
            per = {w: effects[w].get(eid) for w in workers}
            if any(v is None for v in per.values()):
                missing += 1
                continue
            w_last = max(per, key=lambda w: per[w])
            slowest[w_last] += 1
            lags.append(max(0.0, per[w_last] - t) * 1000)
        return {"fanout_rate_per_s": round(achieved, 1), "fanout_events": len(published), "fanout_lag_p50_ms": round(percentile(lags, 50), 1),
                "fanout_lag_p95_ms": round(percentile(lags, 95), 1), "fanout_lag_p99_ms": round(percentile(lags, 99), 1),
                "fanout_missing": missing + errors, "fanout_slowest_worker": max(slowest, key=slowest.get) if slowest else "none"}
    finally:
        stop.set()
        await poller
        await bus.close()
        await db.close()
        await redis.aclose()


async def _exists_many(redis, keys: list[str]) -> list[int]:
    async with redis.pipeline(transaction=False) as pipe:
        for k in keys:
            pipe.exists(k)
        return await pipe.execute()


async def journey_phase(users: list[Shopper], products: list[str], words: list[str], seconds: float, run: local.Run,
                        think_s: float = 0.0) -> tuple[dict[str, dict[str, float]], dict[str, int], dict[str, float]]:
    """Every user picks steps by the journey's weights until time is up (a checkout needs a basket, so an empty
    basket turns a checkout into an add-to-cart). Returns per-step summaries, error kinds and the peak footprint."""
    steps = JOURNEY
    weights = [s.weight for s in steps]
    samples = {s.name: Samples() for s in steps}
    deadline = time.perf_counter() + seconds
    peak = {"rss_bytes": 0, "pss_bytes": 0, "processes": 0}

    async def watch() -> None:
        while time.perf_counter() < deadline:
            f = await asyncio.to_thread(footprint, run)
            if f["rss_bytes"] > peak["rss_bytes"]:
                peak.update(f)
            await asyncio.sleep(2)

    async def loop(u: Shopper) -> None:
        rng = random.Random(u.address)
        while time.perf_counter() < deadline:
            step = rng.choices(steps, weights)[0]
            if step.name == "checkout" and u.basket == 0:
                step = steps[3]
            s = samples[step.name]
            if step.name == "browse":
                await u.call("GET", f"/api/products?limit=24&offset={rng.choice((0, 24))}", s)
            elif step.name == "search":
                await u.call("GET", f"/api/search?q={rng.choice(words)}", s)
            elif step.name == "product_page":
                pid = rng.choice(products)
                start = time.perf_counter()
                inner = Samples()
                await asyncio.gather(u.call("GET", f"/api/products/{pid}", inner), u.call("GET", f"/api/reviews/{pid}", inner),
                                     u.call("GET", f"/api/recommendations/{pid}", inner))
                if inner.errors:
                    for kind, k in inner.error_kinds.items():
                        s.error_kinds[kind] += k
                    s.errors += 1
                else:
                    s.ok(time.perf_counter() - start)
            elif step.name == "add_to_cart":
                await u.add_to_cart(rng.choice(products), s)
            else:
                await u.checkout(s)
            if think_s:
                await asyncio.sleep(rng.uniform(0, 2 * think_s))

    t0 = time.perf_counter()
    await asyncio.gather(watch(), *(loop(u) for u in users))
    wall = time.perf_counter() - t0
    kinds: dict[str, int] = defaultdict(int)
    for s in samples.values():
        for k, v in s.error_kinds.items():
            kinds[k] += v
    total = Samples(latencies=[x for s in samples.values() for x in s.latencies], errors=sum(s.errors for s in samples.values()))
    out = {name: s.summary(wall) for name, s in samples.items()}
    out["all"] = total.summary(wall)
    return out, dict(kinds), peak


# --------------------------------------------------------------------------- the whole run


@dataclass
class Options:
    """How long and how hard each phase runs."""

    users: int = 20
    journey_s: float = 30.0
    checkout_concurrency: int = 8
    checkout_s: float = 20.0
    raw_s: float = 8.0
    fanout_rate: float = 50.0
    fanout_s: float = 10.0
    overhead_requests: int = 400
    think_s: float = 0.0
    soak: bool = False

    @classmethod
    def quick(cls) -> Options:
        return cls(users=8, journey_s=6, checkout_concurrency=4, checkout_s=5, raw_s=3, fanout_rate=50, fanout_s=3,
                   overhead_requests=100)

    @classmethod
    def soak_run(cls) -> Options:
        """100 concurrent users for 5 minutes (the zero-error bar), plus the other phases at their normal size. A user
        pauses between steps, uniformly 0-4 s (2 s on average, as load tools' shoppers do); without pauses 100
        users are a saturation test, not 100 shoppers."""
        return cls(users=100, journey_s=300, think_s=2.0, soak=True)


TARGETS = {"checkout_vs_raw": 0.30, "gateway_overhead_p50_ms": 2.0, "fanout_lag_p95_ms": 250.0, "rss_gib": 1.5}


def checks(fig: dict[str, Any], opts: Options) -> list[Check]:
    out = [
        at_least("checkout throughput / raw limit", fig["checkout_vs_raw"], TARGETS["checkout_vs_raw"]),
        at_most("gateway overhead p50", fig["gateway_overhead_p50_ms"], TARGETS["gateway_overhead_p50_ms"], " ms"),
        at_most(f"order.created fan-out lag p95 at {opts.fanout_rate:g}/s", fig["fanout_lag_p95_ms"], TARGETS["fanout_lag_p95_ms"], " ms"),
        equals("fan-out events without every effect", fig["fanout_missing"], 0),
        below("platform RSS (all supervised processes, peak)", fig["platform_rss_gib"], TARGETS["rss_gib"], " GiB"),
        # RSS sums count each shared library page once per process; PSS shares them out (what the platform occupies)
        below("platform PSS (all supervised processes, peak)", fig["platform_pss_gib"], TARGETS["rss_gib"], " GiB"),
        equals(f"journey errors ({opts.users} users, {opts.journey_s:g} s)", fig["journey_errors"], 0),
    ]
    return out


async def measure(run: local.Run, opts: Options, log=print) -> dict[str, Any]:
    """Run every phase against a started platform; returns the figures (flat, JSON-ready)."""
    model = load_model()
    gateway = run.url(model, "api-gateway")
    direct = run.url(model, "products")
    fig: dict[str, Any] = {}
    async with session(max(64, opts.users * 4)) as http:
        products, words = await catalogue(http, gateway)
        idle = footprint(run)
        fig.update({"platform_processes": idle["processes"], "platform_rss_idle_gib": round(idle["rss_bytes"] / GIB, 3),
                    "platform_pss_idle_gib": round(idle["pss_bytes"] / GIB, 3)})

        log(f"gateway overhead: {opts.overhead_requests} calls each way, alternating, concurrency 1")
        fig.update(await gateway_overhead(http, gateway, direct, products[0], opts.overhead_requests))

        log(f"raw limit: PostgreSQL transaction + confirmed publish, concurrency {opts.checkout_concurrency}, {opts.raw_s:g} s")
        fig.update(await raw_limit(run, model, opts.checkout_concurrency, opts.raw_s))

        log(f"checkout: {opts.checkout_concurrency} shoppers looping add-to-cart -> checkout, {opts.checkout_s:g} s "
            "(alternating traced and untraced slices)")
        buyers = await shoppers(http, gateway, opts.checkout_concurrency, first=1)
        c, _, _ = await checkout_phase(buyers, products, opts.checkout_s)
        fig.update(c)
        fig["checkout_vs_raw"] = round(fig["checkout_per_s"] / fig["raw_per_s"], 4) if fig["raw_per_s"] else 0.0
        fig["checkout_untraced_vs_raw"] = round(fig["checkout_untraced_per_s"] / fig["raw_per_s"], 4) if fig["raw_per_s"] else 0.0

        log(f"fan-out: order.created at {opts.fanout_rate:g}/s for {opts.fanout_s:g} s")
        fig.update(await fanout_lag(run, model, products, opts.fanout_rate, opts.fanout_s))

        log(f"journey: {opts.users} users, {opts.journey_s:g} s" + (f", think time ~{opts.think_s:g} s" if opts.think_s else ""))
        users = await shoppers(http, gateway, opts.users, first=1000)
        steps, kinds, peak = await journey_phase(users, products, words, opts.journey_s, run, opts.think_s)
        for name, s in steps.items():
            for k, v in s.items():
                fig[f"journey_{name}_{k}"] = v
        fig["journey_users"] = opts.users
        fig["journey_seconds"] = opts.journey_s
        fig["journey_think_s"] = opts.think_s
        fig["journey_errors"] = sum(kinds.values())
        fig["journey_error_kinds"] = "; ".join(f"{k} x{v}" for k, v in sorted(kinds.items())) or "none"
        after = footprint(run)
        rss = max(peak["rss_bytes"], after["rss_bytes"], idle["rss_bytes"])
        pss = max(peak["pss_bytes"], after["pss_bytes"], idle["pss_bytes"])
        fig["platform_rss_gib"] = round(rss / GIB, 3)
        fig["platform_pss_gib"] = round(pss / GIB, 3)
        fig["platform_rss_vs_target"] = round(rss / GIB / TARGETS["rss_gib"], 3)
        fig["gateway_overhead_vs_target"] = round(fig["gateway_overhead_p50_ms"] / TARGETS["gateway_overhead_p50_ms"], 2)
        fig["fanout_lag_vs_target"] = round(fig["fanout_lag_p95_ms"] / TARGETS["fanout_lag_p95_ms"], 2)
        fig["machine_load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    return fig
