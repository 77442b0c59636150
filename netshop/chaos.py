"""Fault injection: drive concurrent checkouts through the gateway while faults hit the platform, then check
that no effect was lost or duplicated (`netshop chaos`, `make chaos`).

The faults come from the model: every fault point a service has (`services.common.faults.points`: one per
sync edge it calls, per queue it consumes, per event it publishes, plus business steps) is armed during the
run, so a new edge or consumer is exercised without touching this file. On top of those: kill -9 of each
worker-tier service (supervisord restarts it), the broker's connections cut at a proxy, a slow then failing
payments window, order persistence failing for a fraction of checkouts, and a restart of one app service.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from model.schema import NetShopModel
from netshop import local
from netshop.invariants import Check, Stores, settle
from services.common.faults import points

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
PASSWORD = "chaos run password, long enough"


class Target(Protocol):
    """A running local platform whose broker connections pass through a cuttable proxy."""

    run: local.Run
    model: NetShopModel
    broker: Any  # netshop.tcpproxy.FaultProxy


@dataclass
class Plan:
    """What one chaos run does; the full run and the bounded test differ only here."""

    checkouts: int = 500
    concurrency: int = 24
    duration: float = 120.0  # faults are spread over this window; load keeps going until every checkout is placed
    declined_share: float = 0.05
    kill_workers: bool = True
    cut_broker: bool = True
    payments_slow: bool = True
    payments_failing: bool = True
    persist_failure_rate: float = 0.15
    restart_service: str | None = "orders"
    edge_faults: bool = True
    settle_timeout: float = 180.0
    seed: int = 7


@dataclass
class Outcome:
    key: str
    user: str
    status: str = "unresolved"  # accepted | failed | unresolved
    order_id: str | None = None
    attempts: int = 0
    answers: Counter = field(default_factory=Counter)


@dataclass
class Injection:
    at: float
    fault: str
    target: str
    detail: str
    ok: bool = True


# --------------------------------------------------------------------------- faults from the model


def fault_points(model: NetShopModel) -> dict[str, list[str]]:
    """Every implemented service's fault points, as the model derives them."""
    return {s.name: points(model, s.name) for s in model.services if local.implemented(s.name) and points(model, s.name)}


def edge_fault(point: str) -> dict:
    """The spec armed at a model-derived point during the sweep. Failures are bounded (`remaining`) below the
    queues' delivery limit, so a consumer fault causes redeliveries, never a dead letter."""
    if point.startswith("consume:"):
        return {"point": point, "mode": "fail", "rate": 0.3, "remaining": 2}
    if point.startswith("publish:"):
        return {"point": point, "mode": "fail", "rate": 0.3, "remaining": 3}
    return {"point": point, "mode": "fail", "rate": 0.05, "remaining": 3}


def workers(model: NetShopModel) -> list[str]:
    return [s.name for s in model.services if s.tier == "worker" and local.implemented(s.name)]


# --------------------------------------------------------------------------- the shoppers


class Shoppers:
    """Customers checking out through the gateway, each from its own address, retrying with the same
    Idempotency-Key until the answer is final: an order, or a failure the service stored (a replay says so)."""

    def __init__(self, gateway: str, plan: Plan) -> None:
        self.gateway = gateway
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.outcomes: list[Outcome] = []
        self.users: list[dict] = []
        self.products: list[str] = []
        self.errors: Counter = Counter()
        self.elapsed = 0.0

    async def _call(self, session, method: str, path: str, user: dict | None, *, deadline: float, json=None,
                    headers: dict | None = None, final=lambda status, body: status < 500 and status not in (409, 429)):
        """One logical request, repeated through transient answers until `final` says so or time runs out."""
        hdrs = dict(headers or {})
        if user:
            hdrs |= {"Authorization": f"Bearer {user['token']}", "X-Forwarded-For": user["ip"]}
        delay = 0.1
        status, body = 0, {}
        while time.monotonic() < deadline:
            try:
                async with session.request(method, self.gateway + path, json=json, headers=hdrs) as r:
                    status = r.status
                    body = await r.json(content_type=None) if r.content_length != 0 else {}
                    body = body if isinstance(body, dict) else {"items": body}
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                status, body = 0, {"error": type(exc).__name__}
            if status and final(status, body):
                return status, body
            self.errors[f"{method} {path.split('/')[2] if path.count('/') > 1 else path} -> {status or body.get('error')}"] += 1
            await asyncio.sleep(delay + self.rng.random() * delay)
            delay = min(delay * 2, 2.0)
        return status, body

    async def sign_up(self, session, n: int, deadline: float) -> None:
        async def one(i: int) -> dict:
            ip = f"10.77.{i // 250}.{i % 250 + 1}"
            email = f"chaos-{uuid.uuid4().hex[:12]}@example.com"
            user = {"ip": ip, "token": None}
            s, body = await self._call(session, "POST", "/api/auth/register", None, deadline=deadline,
                                       json={"email": email, "password": PASSWORD, "name": "Chaos"},
                                       headers={"X-Forwarded-For": ip})
            if s != 201:
                raise RuntimeError(f"registering a shopper failed: {s} {body}")
            user["id"] = body["id"]
            s, tok = await self._call(session, "POST", "/api/auth/login", None, deadline=deadline,
                                      json={"email": email, "password": PASSWORD}, headers={"X-Forwarded-For": ip})
            if s != 200:
                raise RuntimeError(f"logging a shopper in failed: {s} {tok}")
            user["token"] = tok["access_token"]
            return user

        sem = asyncio.Semaphore(8)

        async def bounded(i: int) -> dict:
            async with sem:
                return await one(i)

        self.users = list(await asyncio.gather(*(bounded(i) for i in range(n))))
        s, listing = await self._call(session, "GET", "/api/products?limit=100", None, deadline=deadline)
        self.products = [p["id"] for p in listing["items"]]

    async def checkout(self, session, user: dict, deadline: float) -> Outcome:
        outcome = Outcome(key=f"chaos-{uuid.uuid4().hex}", user=user["id"])
        for pid in self.rng.sample(self.products, self.rng.randint(1, 3)):
            s, _ = await self._call(session, "POST", "/api/cart/items", user, deadline=deadline,
                                    json={"product_id": pid, "quantity": self.rng.randint(1, 2)})
            if s != 201:
                outcome.answers[f"cart {s}"] += 1
                return outcome  # never placed: no key was used
        card = CARD_DECLINED if self.rng.random() < self.plan.declined_share else CARD_OK

        def final(status: int, body: dict) -> bool:
            outcome.attempts += 1
            outcome.answers[str(status)] += 1
            return 200 <= status < 300 or body.get("replayed") is True

        # the first answer to a failure is stored by the saga; asking again with the key replays it, which proves it final
        status, body = await self._call(session, "POST", "/api/orders/checkout", user, deadline=deadline,
                                        json={"card_number": card}, headers={"Idempotency-Key": outcome.key}, final=final)
        if 200 <= status < 300:
            outcome.status, outcome.order_id = "accepted", body["order_id"]
        elif body.get("replayed") is True:
            outcome.status = "failed"
        return outcome

    async def run(self, session, deadline_per_checkout: float) -> None:
        """Place the checkouts paced evenly over the fault window (checkout i starts no earlier than
        i/n of the way through it), at most one per shopper at a time."""
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(self.plan.checkouts):
            queue.put_nowait(i)
        t0 = time.monotonic()
        pace = 0.9 * self.plan.duration / max(1, self.plan.checkouts)

        async def shopper(user: dict) -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await asyncio.sleep(max(0.0, t0 + i * pace - time.monotonic()))
                self.outcomes.append(await self.checkout(session, user, time.monotonic() + deadline_per_checkout))

        await asyncio.gather(*(shopper(u) for u in self.users))
        self.elapsed = time.monotonic() - t0


# --------------------------------------------------------------------------- the faults


class Injector:
    def __init__(self, target: Target, plan: Plan, t0: float) -> None:
        self.t = target
        self.plan = plan
        self.t0 = t0
        self.log: list[Injection] = []

    def note(self, fault: str, target: str, detail: str, ok: bool = True, at: float | None = None) -> None:
        self.log.append(Injection(round(time.monotonic() - self.t0, 1) if at is None else at, fault, target, detail, ok))

    async def at(self, fraction: float) -> None:
        await asyncio.sleep(max(0.0, self.t0 + fraction * self.plan.duration - time.monotonic()))

    async def arm(self, session, service: str, spec: dict) -> bool:
        try:
            async with session.put(self.t.run.url(self.t.model, service) + "/_ops/faults", json=spec) as r:
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def disarm(self, session, service: str, point: str | None = None) -> None:
        try:
            async with session.delete(self.t.run.url(self.t.model, service) + "/_ops/faults",
                                      params={"point": point} if point else None):
                pass
        except (aiohttp.ClientError, TimeoutError):
            pass

    async def window(self, session, start: float, end: float, service: str, spec: dict, label: str) -> None:
        await self.at(start)
        ok = await self.arm(session, service, spec)
        at = round(time.monotonic() - self.t0, 1)
        self.note(label, service, f"{spec['point']} {spec['mode']} rate={spec.get('rate', 1)}"
                  + (f" delay={spec['delay_ms']}ms" if spec.get("delay_ms") else "")
                  + f" for {round((end - start) * self.plan.duration)}s", ok, at=at)
        await self.at(end)
        await self.disarm(session, service, spec["point"])

    async def sweep(self, session) -> None:
        """Arm every model-derived fault point (edges, consumers, publishes) for most of the run."""
        await self.at(0.05)
        for service, pts in fault_points(self.t.model).items():
            for point in pts:
                if point in ("orders.persist", "payments.authorize"):
                    continue  # business steps get their own windows
                ok = await self.arm(session, service, edge_fault(point))
                self.note("model fault point", service, f"{point} ({edge_fault(point)['mode']}, at most {edge_fault(point)['remaining']})", ok)

    async def kill(self, service: str, fraction: float) -> None:
        await self.at(fraction)
        before = await asyncio.to_thread(_pid, self.t.run, service)
        if not before:
            self.note("kill -9", service, "no running process", False)
            return
        os.kill(before, signal.SIGKILL)
        started = time.monotonic()
        at = round(started - self.t0, 1)
        ok = await self._back(service, before)
        if not ok:  # supervisord gave up: start it by hand
            await asyncio.to_thread(local.supervisorctl, self.t.run, "start", service)
            ok = await self._back(service, before)
        self.note("kill -9 + restart", service, f"pid {before}, back after {time.monotonic() - started:.1f}s", ok, at=at)

    async def restart(self, service: str, fraction: float) -> None:
        await self.at(fraction)
        before = await asyncio.to_thread(_pid, self.t.run, service)
        started = time.monotonic()
        at = round(started - self.t0, 1)
        proc = await asyncio.to_thread(local.supervisorctl, self.t.run, "restart", service)
        ok = await self._back(service, before)
        self.note("restart app service", service, f"supervisorctl restart: {proc.stdout.strip()!r}, ready after "
                  f"{time.monotonic() - started:.1f}s", ok and proc.returncode == 0, at=at)

    async def _back(self, service: str, old_pid: int, timeout: float = 45.0) -> bool:
        deadline = time.monotonic() + timeout
        url = self.t.run.url(self.t.model, service) + "/readyz"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as s:
            while time.monotonic() < deadline:
                pid = await asyncio.to_thread(_pid, self.t.run, service)
                if pid and pid != old_pid:
                    try:
                        async with s.get(url) as r:
                            if r.status == 200:
                                return True
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                await asyncio.sleep(0.3)
        return False

    async def cut_broker(self, start: float, end: float) -> None:
        await self.at(start)
        self.t.broker.cut()
        at = round(time.monotonic() - self.t0, 1)
        await self.at(end)
        self.t.broker.restore()
        self.note("broker connections cut", "rabbitmq", f"every AMQP connection dropped at the proxy for "
                  f"{round((end - start) * self.plan.duration)}s, then restored", at=at)

    async def run(self) -> None:
        p = self.plan
        jobs = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            if p.edge_faults:
                jobs.append(self.sweep(session))
            if p.kill_workers:
                for i, w in enumerate(workers(self.t.model)):
                    jobs.append(self.kill(w, 0.15 + 0.08 * i))
            if p.cut_broker:
                jobs.append(self.cut_broker(0.40, 0.50))
            if p.payments_slow:  # past orders' three 5 s attempts for some: authorisations land after orders gave up
                jobs.append(self.window(session, 0.52, 0.62, "payments",
                                        {"point": "payments.authorize", "mode": "delay", "rate": 0.3, "delay_ms": 25_000},
                                        "payments slow"))
            if p.payments_failing:
                jobs.append(self.window(session, 0.64, 0.72, "payments",
                                        {"point": "payments.authorize", "mode": "fail", "rate": 0.5}, "payments failing"))
            if p.persist_failure_rate:
                jobs.append(self.window(session, 0.30, 0.85, "orders",
                                        {"point": "orders.persist", "mode": "fail", "rate": p.persist_failure_rate},
                                        "order persistence failing"))
            if p.restart_service:
                jobs.append(self.restart(p.restart_service, 0.76))
            await asyncio.gather(*jobs)
            await self.at(0.95)
            for service in fault_points(self.t.model):
                await self.disarm(session, service)


def _pid(run: local.Run, service: str) -> int:
    proc = local.supervisorctl(run, "pid", service)
    out = proc.stdout.strip()
    return int(out) if out.isdigit() and out != "0" else 0


# --------------------------------------------------------------------------- one run


@dataclass
class Report:
    plan: Plan
    started: float
    duration_s: float
    load_s: float
    outcomes: list[Outcome]
    injections: list[Injection]
    checks: list[Check]
    client_retries: Counter

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and not self.mismatches and self.unresolved == 0

    @property
    def unresolved(self) -> int:
        return sum(o.status == "unresolved" for o in self.outcomes)

    mismatches: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        by = Counter(o.status for o in self.outcomes)
        kinds = Counter(i.fault for i in self.injections)
        return {
            "checkouts": len(self.outcomes), "accepted": by["accepted"], "failed": by["failed"], "unresolved": by["unresolved"],
            "concurrency": self.plan.concurrency, "load_seconds": round(self.load_s, 1),
            "checkouts_per_second": round(len(self.outcomes) / self.load_s, 1) if self.load_s else 0,
            "client_retries": sum(self.client_retries.values()),
            "faults_injected": len(self.injections), "faults_failed_to_inject": sum(not i.ok for i in self.injections),
            **{f"faults.{k}": v for k, v in sorted(kinds.items())},
        }


def client_view_mismatches(outcomes: list[Outcome], checks_scope_orders: dict[str, str]) -> list[str]:
    """What the shoppers were told must match what the platform kept: an accepted checkout's order exists."""
    return [f"checkout {o.key}: told order {o.order_id}, platform has none" for o in outcomes
            if o.status == "accepted" and o.order_id not in checks_scope_orders]


async def run_chaos(target: Target, plan: Plan, *, scoped: bool = False, say=print) -> Report:
    """Drive `plan.checkouts` checkouts while injecting faults; settle; check the invariants."""
    model = target.model
    stores = Stores(database=target.run.database, key_prefix=target.run.key_prefix, vhost=target.run.vhost)
    gateway = target.run.url(model, model.platform.ingress.service)
    shoppers = Shoppers(gateway, plan)
    started = time.time()
    t0 = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20),
                                     connector=aiohttp.TCPConnector(limit=plan.concurrency * 2)) as session:
        await shoppers.sign_up(session, plan.concurrency, deadline=time.monotonic() + 60)
        say(f"{len(shoppers.users)} shoppers signed up in {time.monotonic() - t0:.1f}s; "
            f"placing {plan.checkouts} checkouts while faults run for {plan.duration:.0f}s")
        t_load = time.monotonic()
        injector = Injector(target, plan, t_load)
        await asyncio.gather(shoppers.run(session, deadline_per_checkout=plan.duration + 120), injector.run())
        load_s = shoppers.elapsed
    say(f"load done in {load_s:.1f}s; waiting for the platform to settle")
    scope = {uuid.UUID(u["id"]) for u in shoppers.users} if scoped else None
    checks = await settle(model, stores, scope, timeout=plan.settle_timeout)
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=stores.database)
    try:
        orders = {r["id"]: r["key"] for r in await conn.fetch(
            "SELECT o.id::text AS id, c.idempotency_key AS key FROM orders.orders o JOIN orders.checkouts c ON c.id = o.checkout_id "
            "WHERE c.user_id = ANY($1::uuid[])", [uuid.UUID(u["id"]) for u in shoppers.users])}
    finally:
        await conn.close()
    report = Report(plan, started, time.monotonic() - t0, load_s, shoppers.outcomes, injector.log, checks, shoppers.errors)
    report.mismatches = client_view_mismatches(shoppers.outcomes, orders)
    told_failed = {o.key for o in shoppers.outcomes if o.status == "failed"}
    report.mismatches += [f"checkout {k}: told it failed, platform stored an order" for k in told_failed & set(orders.values())]
    return report


# --------------------------------------------------------------------------- own platform (the CLI)


@dataclass
class OwnPlatform:
    run: local.Run
    model: NetShopModel
    broker: Any


def start_platform(run_dir, extra_env: dict[str, str] | None = None) -> OwnPlatform:
    from model import load_model
    from netshop.tcpproxy import FaultProxy

    model = load_model()
    tag = f"chaos{os.getpid()}"
    rabbit = next(d for d in model.datastores if d.kind == "rabbitmq")
    broker = FaultProxy(rabbit.port)
    run = local.Run(
        offset=local.reserve_offset(model), database=f"netshop_{tag}", vhost=f"netshop_{tag}", key_prefix=f"ns-{tag}",
        run_dir=run_dir, fault_injection=True,
        extra_env={f"NETSHOP_{rabbit.name.upper()}_URL": f"amqp://guest:guest@127.0.0.1:{broker.port}/netshop_{tag}",
                   "NETSHOP_RATE_LIMIT": "100000", **(extra_env or {})},
    )
    try:
        ready = local.up(run, timeout=180)
    except Exception:
        broker.close()
        raise
    missing = [n for n, ok in ready.items() if not ok]
    if missing:
        stop_platform(OwnPlatform(run, model, broker))
        raise RuntimeError(f"chaos platform not ready: {missing}; logs in {run_dir}")
    return OwnPlatform(run, model, broker)


def stop_platform(p: OwnPlatform) -> None:
    local.down(p.run)
    p.broker.close()
    asyncio.run(local.drop_datastores(p.run, p.model))


# --------------------------------------------------------------------------- output


def print_report(report: Report, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    figs = report.figures()
    faults = Table(title="Faults injected", show_lines=False)
    for col in ("t (s)", "fault", "target", "detail", "ok"):
        faults.add_column(col)
    for i in sorted(report.injections, key=lambda i: i.at):
        if i.fault != "model fault point":
            faults.add_row(str(i.at), i.fault, i.target, i.detail, "yes" if i.ok else "[red]NO[/red]")
    sweep = [i for i in report.injections if i.fault == "model fault point"]
    if sweep:
        faults.add_row(str(sweep[0].at), "model fault points", f"{len({i.target for i in sweep})} services",
                       f"{len(sweep)} points: " + ", ".join(i.detail.split(' ')[0] for i in sweep), "yes" if all(i.ok for i in sweep) else "NO")
    console.print(faults)
    inv = Table(title=f"Invariants after {figs['checkouts']} checkouts ({figs['accepted']} accepted, {figs['failed']} failed, "
                f"{figs['unresolved']} unresolved) in {report.duration_s:.0f}s")
    for col in ("invariant", "violations", "numbers", "verdict"):
        inv.add_column(col)
    for c in report.checks:
        inv.add_row(c.name, str(c.value), ", ".join(f"{k}={v}" for k, v in c.numbers.items()),
                    "[green]pass[/green]" if c.passed else "[red]FAIL[/red]")
    inv.add_row("shoppers' answers match the platform", str(len(report.mismatches) + report.unresolved),
                f"accepted={figs['accepted']}, failed={figs['failed']}, unresolved={figs['unresolved']}",
                "[green]pass[/green]" if not report.mismatches and not report.unresolved else "[red]FAIL[/red]")
    console.print(inv)
    for c in report.checks:
        for e in c.examples[:5]:
            console.print(f"  [red]{c.name}[/red]: {e}")
    for m in report.mismatches[:10]:
        console.print(f"  [red]mismatch[/red]: {m}")


def result_document(report: Report, command: str) -> dict:
    import platform
    from datetime import UTC, datetime

    checks = [c.as_result() for c in report.checks]
    checks.append({"name": "shoppers' answers match the platform", "value": len(report.mismatches) + report.unresolved,
                   "target": "0 mismatches", "pass": not report.mismatches and not report.unresolved,
                   "numbers": {"mismatches": len(report.mismatches), "unresolved": report.unresolved}})
    return {
        "suite": "chaos", "command": command,
        "started": datetime.fromtimestamp(report.started, UTC).isoformat(timespec="seconds"),
        "duration_s": round(report.duration_s, 1),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "figures": report.figures(),
        "checks": checks,
        "faults": [i.__dict__ for i in report.injections],
    }
