"""Fault injection: the invariant checker (proved able to fail on seeded violations in a scratch database),
fault points derived from the model (a new edge or consumer gets one for free), and chaos runs on the
platform: a bounded one in `make test`, the full 500-checkout run marked slow."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import aio_pika
import asyncpg
import orjson
import pytest
import redis
import yaml

from conftest import build
from model.messaging import DEAD_LETTER_QUEUE_ARGUMENTS, queue_arguments
from netshop import chaos, invariants, local
from netshop.invariants import Stores
from services.common.faults import FaultInjected, points

REPO = Path(__file__).resolve().parent.parent
MIGRATED = ("orders", "payments", "inventory", "notifications")


# --------------------------------------------------------------------------- a scratch world for the checker


class World:
    """A scratch database (the services' own migrations), Redis prefix and vhost holding a consistent end
    state: two accepted orders and a failed checkout whose authorisation was voided."""

    def __init__(self, model) -> None:
        tag = f"chk{os.getpid()}{uuid.uuid4().hex[:6]}"
        self.model = model
        self.stores = Stores(database=f"netshop_{tag}", key_prefix=f"ns-{tag}", vhost=f"netshop_{tag}")
        self.redis = redis.Redis(decode_responses=True)
        self.orders: list[dict] = []

    def key(self, *parts: str) -> str:
        return ":".join((self.stores.key_prefix, "analytics", *parts))

    def sql(self, query: str, *args):
        async def go():
            conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=self.stores.database)
            try:
                return await conn.fetch(query, *args)
            finally:
                await conn.close()

        return asyncio.run(go())

    def amqp(self, fn):
        async def go():
            conn = await aio_pika.connect(self.stores.amqp_url)
            async with conn:
                ch = await conn.channel(publisher_confirms=True)
                await fn(ch)

        asyncio.run(go())

    def create(self) -> None:
        from services.common.db import migrate

        async def schema():
            admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
            await admin.execute(f'CREATE DATABASE "{self.stores.database}"')
            await admin.close()
            conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=self.stores.database)
            try:
                for svc in MIGRATED:
                    await conn.execute(f'CREATE SCHEMA "{svc}"')
                    await migrate(conn, svc, REPO / "services" / svc / "migrations")
            finally:
                await conn.close()

        asyncio.run(schema())
        local.rabbitmqctl("add_vhost", self.stores.vhost, ok_if="already_exists")
        local.rabbitmqctl("set_permissions", "-p", self.stores.vhost, "guest", ".*", ".*", ".*")

        async def topology(ch):
            for event in self.model.events:
                x = self.model.exchange_by_name[event.exchange]
                for sub in event.subscriptions:
                    await ch.declare_queue(sub.queue, durable=True, arguments=queue_arguments(x, sub))
                    await ch.declare_queue(sub.dead_letter_queue, durable=True, arguments=dict(DEAD_LETTER_QUEUE_ARGUMENTS))

        self.amqp(topology)
        for total, lines in ((2500, [("trail-bottle", 1), ("sun-cap", 2)]), (1200, [("ink-bottle", 3)])):
            self.accepted(total, lines)
        self.failed("voided")

    def checkout(self, status: str) -> tuple[uuid.UUID, uuid.UUID]:
        cid, user = uuid.uuid4(), uuid.uuid4()
        self.sql("INSERT INTO orders.checkouts (id, user_id, idempotency_key, status) VALUES ($1, $2, $3, $4)", cid, user, cid.hex, status)
        return cid, user

    def payment(self, cid: uuid.UUID, status: str, amount: int = 100) -> uuid.UUID:
        pid = uuid.uuid4()
        self.sql("""INSERT INTO payments.payments (id, idempotency_key, request_hash, amount_minor, currency, card_last4, status, reference)
                    VALUES ($1, $2, 'h', $3, 'EUR', '4242', $4, $5)""", pid, f"k-{pid}", amount, status, str(cid))
        return pid

    def accepted(self, total: int, lines: list[tuple[str, int]]) -> dict:
        cid, user = self.checkout("completed")
        pid = self.payment(cid, "authorized", total)
        oid, eid = uuid.uuid4(), uuid.uuid4()
        self.sql("""INSERT INTO orders.orders (id, checkout_id, user_id, email, status, total_minor, currency, payment_id)
                    VALUES ($1, $2, $3, 'a@example.com', 'confirmed', $4, 'EUR', $5)""", oid, cid, user, total, pid)
        self.sql("UPDATE orders.checkouts SET order_id = $2, payment_id = $3 WHERE id = $1", cid, oid, pid)
        for product, qty in lines:
            self.sql("INSERT INTO orders.order_lines VALUES ($1, $2, $2, $3, 100)", oid, product, qty)
        self.sql("INSERT INTO orders.outbox (event_id, event, checkout_id, payload, sent_at) VALUES ($1, 'order.created', $2, $3, now())",
                 eid, cid, orjson.dumps({"order_id": str(oid)}).decode())
        for consumer in ("inventory", "notifications"):
            self.sql(f"INSERT INTO {consumer}.processed_events (event_id, event) VALUES ($1, 'order.created')", eid)
        for product, qty in lines:
            self.sql("INSERT INTO inventory.stock_ledger (event_id, order_id, product_id, quantity) VALUES ($1, $2, $3, $4)",
                     eid, str(oid), product, qty)
        self.sql("INSERT INTO notifications.notifications (event_id, order_id, user_id, email, subject, body) VALUES ($1, $2, $3, 'a@example.com', 's', 'b')",
                 eid, str(oid), str(user))
        self.redis.set(self.key("processed", str(eid)), "1")
        self.redis.hincrby(self.key("revenue"), "EUR", total)
        self.redis.incr(self.key("orders"))
        self.redis.hset(self.key("order-totals"), str(oid), total)
        order = {"order_id": oid, "checkout_id": cid, "event_id": eid, "user": user, "lines": lines, "total": total}
        self.orders.append(order)
        return order

    def failed(self, payment_status: str | None) -> uuid.UUID:
        cid, _ = self.checkout("failed")
        if payment_status:
            self.payment(cid, payment_status)
        return cid

    def check(self) -> dict[str, invariants.Check]:
        return {c.name: c for c in asyncio.run(invariants.check(self.model, self.stores))}

    def drop(self) -> None:
        asyncio.run(local.drop_datastores(local.Run(database=self.stores.database, vhost=self.stores.vhost,
                                                    key_prefix=self.stores.key_prefix), self.model))
        self.redis.close()


@pytest.fixture
def world(netshop):
    w = World(netshop)
    w.create()
    try:
        yield w
    finally:
        w.drop()


def failing(checks: dict[str, invariants.Check]) -> set[str]:
    return {name for name, c in checks.items() if not c.passed}


def test_a_consistent_end_state_passes_every_invariant_with_its_numbers(world):
    checks = world.check()
    assert failing(checks) == set()
    by = {c.__name__: checks[c(invariants._EMPTY).name] for c in invariants.INVARIANTS}
    assert by["accepted_orders_paid_and_announced_once"].numbers["orders"] == 2
    assert by["stock_decreased_once_per_line"].numbers == {"order_lines": 3, "ledger_rows": 3, "units_ordered": 6,
                                                           "units_committed": 6, "missing": 0, "extra": 0, "wrong_quantity": 0}
    assert by["failed_checkouts_leave_nothing"].numbers["voided"] == 1
    assert by["analytics_revenue_matches_orders"].numbers["analytics_revenue_minor"] == 3700


def _notification_twice(w):  # the table's own constraint refuses a second row per order: drop it, as a bug would
    o = w.orders[0]
    w.sql("ALTER TABLE notifications.notifications DROP CONSTRAINT notifications_order_id_key")
    eid = uuid.uuid4()
    w.sql("INSERT INTO notifications.processed_events (event_id, event) VALUES ($1, 'order.created')", eid)
    w.sql("INSERT INTO notifications.notifications (event_id, order_id, user_id, email, subject, body) VALUES ($1, $2, 'u', 'e', 's', 'b')",
          eid, str(o["order_id"]))


def _dead_letter(body: bytes):
    def seed(w):
        sub = w.model.event_by_name["order.created"].subscriptions[0]

        async def publish(ch):
            await ch.default_exchange.publish(aio_pika.Message(body), routing_key=sub.dead_letter_queue)

        w.amqp(publish)

    return seed


def _left_in_queue(w):
    sub = w.model.event_by_name["order.created"].subscriptions[1]

    async def publish(ch):
        await ch.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=sub.queue)

    w.amqp(publish)


SEEDS = {
    "a duplicate notification": (_notification_twice, "one_notification_per_order"),
    "a missing notification": (lambda w: w.sql("DELETE FROM notifications.notifications WHERE order_id = $1", str(w.orders[0]["order_id"])),
                               "one_notification_per_order"),
    "a second authorisation for one order": (lambda w: w.payment(w.orders[1]["checkout_id"], "authorized"),
                                             "accepted_orders_paid_and_announced_once"),
    "an order.created never published": (lambda w: w.sql("UPDATE orders.outbox SET sent_at = NULL WHERE checkout_id = $1", w.orders[0]["checkout_id"]),
                                         "accepted_orders_paid_and_announced_once"),
    "a failed checkout left authorised": (lambda w: w.failed("authorized"), "failed_checkouts_leave_nothing"),
    "an order for a failed checkout": (lambda w: w.sql("UPDATE orders.checkouts SET status = 'failed' WHERE id = $1", w.orders[0]["checkout_id"]),
                                       "failed_checkouts_leave_nothing"),
    "stock taken twice for a line": (lambda w: w.sql("UPDATE inventory.stock_ledger SET quantity = quantity * 2 WHERE order_id = $1",
                                                     str(w.orders[1]["order_id"])), "stock_decreased_once_per_line"),
    "stock never taken for a line": (lambda w: w.sql("DELETE FROM inventory.stock_ledger WHERE product_id = 'sun-cap'"),
                                     "stock_decreased_once_per_line"),
    "revenue counted twice": (lambda w: w.redis.hincrby(w.key("revenue"), "EUR", 1200), "analytics_revenue_matches_orders"),
    "an event a consumer never applied": (lambda w: w.redis.delete(w.key("processed", str(w.orders[1]["event_id"]))),
                                          "every_consumer_applied_every_event_once"),
    "a checkout still in flight": (lambda w: w.checkout("started"), "every_checkout_resolved"),
    "a message left in a queue": (_left_in_queue, "no_message_stranded"),
    "a valid event dead-lettered and never applied": (_dead_letter(orjson.dumps({
        "event_id": str(uuid.uuid4()), "order_id": "x", "user_id": "u", "email": "e", "total_minor": 1, "currency": "EUR",
        "lines": [], "created_at": "now"})), "no_message_stranded"),
}


@pytest.mark.parametrize("seed", list(SEEDS), ids=[s.replace(" ", "-") for s in SEEDS])
def test_the_checker_fails_on_a_seeded_violation(world, seed):
    fn, rule = SEEDS[seed]
    fn(world)
    checks = world.check()
    name = getattr(invariants, rule)(invariants._EMPTY).name
    assert name in failing(checks), f"{seed}: {checks[name].numbers}"
    assert checks[name].value >= 1 and checks[name].examples


def test_a_dead_lettered_poison_message_is_explained_not_a_violation(world):
    _dead_letter(b"not json at all")(world)
    check = world.check()[invariants.no_message_stranded(invariants._EMPTY).name]
    assert check.passed and check.numbers["dead_lettered"] == 1 and check.numbers["dead_lettered_explained"] == 1


# --------------------------------------------------------------------------- fault points from the model


def test_a_new_edge_and_a_new_consumer_get_fault_points_the_chaos_run_arms(model_data):
    # GIVEN a copy of the model WHEN an edge orders -> reviews and a new recommendations consumer of order.created are added
    model_data["sync_edges"].append({"caller": "orders", "callee": "reviews", "routes": ["GET /reviews/{product_id}"],
                                     "purpose": "Ask for a review"})
    event = next(e for e in model_data["events"] if e["name"] == "order.created")
    event["subscriptions"].append({"consumer": "recommendations", "queue": "recommendations.order-created", "binding_key": "order.#",
                                   "dead_letter_queue": "recommendations.order-created.dlq", "effect": "Learns co-purchases"})
    before = build(yaml.safe_load((REPO / "model" / "netshop.yaml").read_text()))
    model = build(model_data)
    # THEN each gets its own fault point, and the chaos sweep arms it
    assert "call:orders->reviews" in points(model, "orders") and "call:orders->reviews" not in points(before, "orders")
    assert "consume:recommendations.order-created" in points(model, "recommendations")
    swept = chaos.fault_points(model)
    assert "call:orders->reviews" in swept["orders"] and "consume:recommendations.order-created" in swept["recommendations"]
    # AND every model edge and subscription has exactly one point, nothing else is generated for them
    edge_points = {p for pts in swept.values() for p in pts if p.startswith(("call:", "consume:"))}
    assert edge_points == {f"call:{e.caller}->{e.callee}" for e in model.sync_edges if local.implemented(e.caller)} | \
        {f"consume:{s.queue}" for e in model.events for s in e.subscriptions}


def test_a_consumer_fault_is_bounded_below_the_delivery_limit_so_it_never_dead_letters(netshop):
    for event in netshop.events:
        for sub in event.subscriptions:
            assert chaos.edge_fault(f"consume:{sub.queue}")["remaining"] < sub.max_deliveries


@pytest.mark.asyncio
async def test_an_armed_edge_point_fails_the_call_like_an_unreachable_peer(monkeypatch):
    from services.common.app import ServiceRuntime
    from services.common.client import PeerUnavailable
    from services.common.faults import FaultSpec
    from services.common.settings import Settings

    rt = ServiceRuntime("orders", settings=Settings(service="orders", fault_injection=True, port_offset=45000))  # type: ignore[call-arg]
    await rt.peers.start()
    try:
        rt.faults.set(FaultSpec(point="call:orders->payments", mode="fail", rate=1.0, remaining=3))
        # the call never leaves: three attempts (Idempotency-Key makes it retryable) each hit the armed point
        with pytest.raises(PeerUnavailable, match="fault injected at call:orders->payments"):
            await rt.peers("payments").post("/payments/authorize", headers={"Idempotency-Key": "k" * 10}, json={})
        assert "call:orders->payments" not in rt.faults.active  # all three failures used up
        rt.faults.set(FaultSpec(point="call:orders->payments", mode="delay", delay_ms=3000))
        with pytest.raises(PeerUnavailable):  # a delay past the call's timeout is a timeout
            await rt.peers("payments").get("/payments/by-reference/x", timeout=0.2, retry=False)
    finally:
        await rt.peers.close()
    with pytest.raises(FaultInjected):
        rt.faults.set(FaultSpec(point="orders.persist", mode="fail"))
        await rt.faults.hit("orders.persist")


@pytest.mark.asyncio
async def test_a_peer_that_never_answers_is_cut_off_at_the_clients_timeout():
    """Without a per-call timeout the session's applies (an explicit None used to switch it off, so a slow
    payments service held orders' saga for as long as it liked)."""
    import time

    from aiohttp import web

    from services.common.client import PeerUnavailable, Peers
    from services.common.identity import Identity
    from services.common.settings import Settings

    offset = 46000
    identity = Identity.load(Settings(service="orders", port_offset=offset))  # type: ignore[call-arg]

    async def never(request):
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/payments/by-reference/{ref}", never)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", identity.model.service_by_name["payments"].port + offset).start()
    peers = Peers(identity, timeout=0.5)
    await peers.start()
    try:
        started = time.monotonic()
        with pytest.raises(PeerUnavailable):
            await peers("payments").get("/payments/by-reference/x", retry=False)
        assert time.monotonic() - started < 3
    finally:
        await peers.close()
        await runner.cleanup()


# --------------------------------------------------------------------------- chaos on the platform


def _report_and_assert(report: chaos.Report) -> None:
    chaos.print_report(report)
    figures = report.figures()
    assert figures["faults_failed_to_inject"] == 0, [i for i in report.injections if not i.ok]
    assert report.passed, ([c.examples[:3] for c in report.checks if not c.passed], report.mismatches[:3], figures)


@pytest.mark.platform
def test_an_authorisation_that_lands_after_the_saga_gave_up_is_voided(shop):
    """Payments so slow that every authorise attempt outlives orders' 5 s timeout: the saga fails while the
    authorisation is still on its way. It must not take "no payment yet" as proof; the reconciler voids the
    authorisation once it lands."""
    import time

    import httpx

    user = shop.user("slowcard")
    r = shop.gateway.post("/api/cart/items", headers=user["headers"], json={"product_id": "sun-cap", "quantity": 1})
    assert r.status_code == 201, r.text
    # every attempt (orders tries three times, 5 s each) is held 25 s: the saga gives up (after about 17 s) before any lands
    shop.fault("payments", "payments.authorize", mode="delay", delay_ms=25_000, remaining=3)
    r = httpx.post(shop.url("api-gateway") + "/api/orders/checkout", timeout=60,
                   headers={**user["headers"], "Idempotency-Key": uuid.uuid4().hex}, json={"card_number": chaos.CARD_OK})
    assert r.status_code >= 400, r.text

    def payments() -> list[str]:
        async def q():
            conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=shop.run.database)
            try:
                return [row["status"] for row in await conn.fetch(
                    "SELECT p.status FROM payments.payments p JOIN orders.checkouts c ON p.reference = c.id::text WHERE c.user_id = $1",
                    uuid.UUID(user["id"]))]
            finally:
                await conn.close()

        return asyncio.run(q())

    started = time.monotonic()
    # THEN the late authorisation lands and is voided; the checkout ends failed with nothing left to compensate
    assert shop.eventually(lambda: payments() == ["voided"], timeout=60), payments()
    stores = Stores(database=shop.run.database, key_prefix=shop.run.key_prefix, vhost=shop.run.vhost)
    checks = shop.eventually(lambda: (c := {c.name: c for c in asyncio.run(invariants.check(shop.model, stores, {uuid.UUID(user["id"])}))})
                             and not failing(c) and c, timeout=30)
    assert checks[invariants.failed_checkouts_leave_nothing(invariants._EMPTY).name].numbers["voided"] == 1, time.monotonic() - started


@pytest.mark.platform
def test_bounded_chaos_run_loses_and_duplicates_nothing(platform):
    """70 checkouts over 25 s while workers are killed, the broker is cut, persistence and payments fail,
    the cart service restarts and every model fault point is armed."""
    plan = chaos.Plan(checkouts=70, concurrency=10, duration=25, payments_slow=False, restart_service="cart",
                      persist_failure_rate=0.2, settle_timeout=60)
    try:
        report = asyncio.run(chaos.run_chaos(platform, plan, scoped=True))
    finally:
        platform.clear_faults()
        platform.broker.restore()
    _report_and_assert(report)
    figures = report.figures()
    assert figures["checkouts"] == 70 and figures["accepted"] > 0 and figures["failed"] > 0
    assert figures["faults.kill -9 + restart"] == len(chaos.workers(platform.model))


@pytest.mark.slow
@pytest.mark.platform
def test_full_chaos_run_of_500_checkouts_loses_and_duplicates_nothing(tmp_path_factory):
    import tempfile

    run_dir = Path(tempfile.mkdtemp(prefix="ns-chaos-", dir="/tmp"))
    p = chaos.start_platform(run_dir)
    try:
        report = asyncio.run(chaos.run_chaos(p, chaos.Plan()))
    finally:
        chaos.stop_platform(p)
    _report_and_assert(report)
    assert report.figures()["checkouts"] >= 500
