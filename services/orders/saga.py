"""The checkout saga.

1. validate the customer (users), read the basket (cart) and price every line (products);
2. authorise the payment (payments) with an idempotency key derived from the checkout;
3. store the order, its lines, its saga steps and an outbox row in ONE PostgreSQL transaction;
4. return. The relay publishes `order.created` later, with publisher confirms.

Compensation: if step 3 fails after authorisation, the payment is voided. A checkout repeated with the
same Idempotency-Key replays the first outcome and never charges twice. A checkout abandoned half-way
(process killed) is found by the reconciler, which voids its authorisation.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.common.client import PeerUnavailable
from services.common.faults import FaultInjected
from services.common.problems import Problem

from .runtime import runtime

log = logging.getLogger("netshop.orders.saga")
tracer = trace.get_tracer("netshop.orders")
EVENT = "order.created"
STUCK_AFTER_SECONDS = 60
# An authorise request can still be in flight at payments this long after the checkout started (client
# timeout x attempts, plus a slow card network): before then, "no payment for this reference" is not proof.
AUTH_SETTLE_SECONDS = 30


def payment_key(checkout_id: uuid.UUID) -> str:
    return f"checkout-{checkout_id}"


async def step(conn: asyncpg.Connection | asyncpg.Pool, checkout_id: uuid.UUID, name: str, outcome: str = "ok",
               detail: dict | None = None) -> None:
    await conn.execute(
        "INSERT INTO saga_steps (checkout_id, step, outcome, detail) VALUES ($1, $2, $3, $4)", checkout_id, name, outcome, detail
    )


class CheckoutAbandoned(Exception):
    """The reconciler declared this checkout interrupted while it was still running."""


class CheckoutFailed(Problem):
    """A saga that ended without an order; stored so a repeat with the same key gets the same answer."""


async def _fail(pool: asyncpg.Pool, checkout_id: uuid.UUID, problem: Problem, step_name: str) -> Problem:
    failure = {"status": problem.status, "title": problem.title, "detail": problem.detail, **problem.extra}
    async with pool.acquire() as conn, conn.transaction():
        await step(conn, checkout_id, step_name, "failed", failure)
        await conn.execute(
            "UPDATE checkouts SET status = 'failed', failure = $2, updated_at = now() WHERE id = $1", checkout_id, failure
        )
    return problem


async def claim(pool: asyncpg.Pool, user_id: uuid.UUID, key: str) -> tuple[uuid.UUID, asyncpg.Record | None]:
    """Start a checkout for this key, or return the earlier one."""
    checkout_id = uuid.uuid4()
    async with pool.acquire() as conn:
        inserted = await conn.fetchval(
            """INSERT INTO checkouts (id, user_id, idempotency_key, status) VALUES ($1, $2, $3, 'started')
               ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id""",
            checkout_id, user_id, key,
        )
        if inserted is not None:
            return checkout_id, None
        earlier = await conn.fetchrow("SELECT * FROM checkouts WHERE user_id = $1 AND idempotency_key = $2", user_id, key)
    return earlier["id"], earlier


async def run(user_id: uuid.UUID, key: str, card_number: str) -> tuple[dict, bool]:
    """Run (or replay) the saga; returns (order view, replayed)."""
    from .views import order_view  # local import: views import saga helpers too

    pool = runtime.require_db()
    checkout_id, earlier = await claim(pool, user_id, key)
    if earlier is not None:
        if earlier["status"] == "completed":
            return await order_view(pool, earlier["order_id"], user_id), True
        if earlier["status"] == "failed":
            f = dict(earlier["failure"])
            raise Problem(f.pop("status"), f.pop("detail"), title=f.pop("title"), replayed=True, **f)
        raise Problem(409, "A checkout with this Idempotency-Key is still in progress.", title="Checkout in progress")

    # 1. customer, basket, prices
    users, cart, products, payments = (runtime.peers(p) for p in ("users", "cart", "products", "payments"))
    try:
        profile = (await users.get(f"/users/{user_id}")).expect(200)
    except Problem as p:
        raise await _fail(pool, checkout_id, Problem(403, "Your account has no customer profile.", title="Unknown customer")
                          if p.status == 404 else p, "user_validated") from None
    await step(pool, checkout_id, "user_validated", detail={"user_id": str(user_id)})
    try:
        basket = (await cart.get("/cart")).expect(200)
        if not basket["items"]:
            raise Problem(409, "The basket is empty.", title="Empty basket")
        ids = [i["product_id"] for i in basket["items"]]
        priced = (await products.post("/products/prices", json={"product_ids": ids})).expect(200)
        if priced["unknown"]:
            raise Problem(409, f"No longer sold: {', '.join(priced['unknown'])}.", title="Unknown product", products=priced["unknown"])
    except Problem as p:
        raise await _fail(pool, checkout_id, p, "basket_priced") from None
    lines = [
        {"product_id": i["product_id"], "name": priced["prices"][i["product_id"]]["name"], "quantity": i["quantity"],
         "unit_price_minor": priced["prices"][i["product_id"]]["price_minor"]}
        for i in basket["items"]
    ]
    currency = priced["prices"][ids[0]]["currency"]
    total = sum(line["quantity"] * line["unit_price_minor"] for line in lines)
    await step(pool, checkout_id, "basket_priced", detail={"lines": len(lines), "total_minor": total, "currency": currency})

    # 2. authorise
    try:
        auth = (await payments.post(
            "/payments/authorize", headers={"Idempotency-Key": payment_key(checkout_id)},
            json={"amount_minor": total, "currency": currency, "card_number": card_number, "reference": str(checkout_id)},
        )).expect(200, 201)
    except Problem as p:
        failed = await _fail(pool, checkout_id, p, "payment_authorised")
        if p.status != 402:  # the authorisation may exist although we never heard back
            await compensate(pool, checkout_id)
        raise failed from None
    payment_id = uuid.UUID(auth["payment_id"])
    async with pool.acquire() as conn:
        await conn.execute("UPDATE checkouts SET payment_id = $2, updated_at = now() WHERE id = $1", checkout_id, payment_id)
        await step(conn, checkout_id, "payment_authorised", detail={"payment_id": str(payment_id), "amount_minor": total})

    # 3. order + outbox in one transaction
    order_id, event_id = uuid.uuid4(), uuid.uuid4()
    created = datetime.now(UTC)
    payload = {
        "event_id": str(event_id), "order_id": str(order_id), "user_id": str(user_id), "email": profile["email"],
        "total_minor": total, "currency": currency, "lines": lines, "created_at": created.isoformat(),
    }
    try:
        async with pool.acquire() as conn, conn.transaction():
            await runtime.faults.hit("orders.persist")
            await conn.execute(
                """INSERT INTO orders (id, checkout_id, user_id, email, status, total_minor, currency, payment_id, created_at)
                   VALUES ($1, $2, $3, $4, 'confirmed', $5, $6, $7, $8)""",
                order_id, checkout_id, user_id, profile["email"], total, currency, payment_id, created,
            )
            await conn.executemany(
                "INSERT INTO order_lines (order_id, product_id, name, quantity, unit_price_minor) VALUES ($1, $2, $3, $4, $5)",
                [(order_id, line["product_id"], line["name"], line["quantity"], line["unit_price_minor"]) for line in lines],
            )
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # the relay publishes inside this checkout's trace
            await conn.execute(
                "INSERT INTO outbox (event_id, event, checkout_id, payload, trace_context) VALUES ($1, $2, $3, $4, $5)",
                event_id, EVENT, checkout_id, payload, carrier,
            )
            await step(conn, checkout_id, "order_stored", detail={"order_id": str(order_id)})
            done = await conn.execute(
                "UPDATE checkouts SET status = 'completed', order_id = $2, updated_at = now() WHERE id = $1 AND status = 'started'",
                checkout_id, order_id,
            )
            if done != "UPDATE 1":  # the reconciler gave this checkout up meanwhile: never store an order it voided
                raise CheckoutAbandoned(f"checkout {checkout_id} was reconciled while running")
    except (FaultInjected, CheckoutAbandoned, asyncpg.PostgresError, OSError, asyncio.TimeoutError) as exc:
        log.warning("storing order for checkout %s failed (%s); voiding payment %s", checkout_id, exc, payment_id)
        voided = await void(payment_id)
        if not voided:  # left authorised: the reconciler finds it by reference and voids it
            async with pool.acquire() as conn:
                await conn.execute("UPDATE checkouts SET compensation_pending = true, updated_at = now() WHERE id = $1", checkout_id)
        raise await _fail(
            pool, checkout_id,
            Problem(503, "The order could not be stored; the payment authorisation was voided. Please try again.",
                    title="Order not stored", payment_voided=voided),
            "order_stored",
        ) from None
    relay_wakeup.set()

    # 4. empty the basket (the order is safe; a failure here only leaves the basket full)
    try:
        await cart.delete("/cart")
    except Exception as exc:
        log.warning("could not empty the basket after order %s: %s", order_id, exc)
    return await order_view(pool, order_id, user_id), False


async def void(payment_id: uuid.UUID, attempts: int = 5) -> bool:
    """Void an authorisation, retrying through transient failures."""
    for i in range(attempts):
        try:
            resp = await runtime.peers("payments").post(f"/payments/{payment_id}/void")
            if resp.status in (200, 409):  # voided now, or already in a final state
                return resp.status == 200
        except PeerUnavailable:
            pass
        await asyncio.sleep(0.2 * 2**i)
    log.error("could not void payment %s; the reconciler will retry", payment_id)
    return False


async def compensate(pool: asyncpg.Pool, checkout_id: uuid.UUID) -> bool:
    """The authorisation's fate is unknown (timeout, outage): find it by its reference and void it.

    Returns True when nothing is left to undo. Until then the checkout stays flagged and the
    reconciler tries again."""
    try:
        resp = await runtime.peers("payments").get(f"/payments/by-reference/{checkout_id}")
    except PeerUnavailable:
        resp = None
    done = False
    if resp is not None and resp.status == 200:
        found = resp.json()
        done = found["status"] in ("voided", "declined") or (found["status"] == "authorized" and await void(uuid.UUID(found["payment_id"])))
    elif resp is not None and resp.status == 404:  # nothing authorised, unless a slow authorise is still in flight
        async with pool.acquire() as conn:
            done = await conn.fetchval(
                f"SELECT created_at < now() - interval '{AUTH_SETTLE_SECONDS} seconds' FROM checkouts WHERE id = $1", checkout_id
            )
    async with pool.acquire() as conn:
        await conn.execute("UPDATE checkouts SET compensation_pending = $2, updated_at = now() WHERE id = $1", checkout_id, not done)
    return done


# --------------------------------------------------------------------------- outbox relay

relay_wakeup = asyncio.Event()


async def relay_once(batch: int = 100) -> int:
    """Publish pending outbox rows with confirms; mark them sent. Returns how many were published."""
    pool, bus = runtime.require_db(), runtime.bus
    if bus is None or not bus.connected:
        return 0
    with suppress_instrumentation():  # polling is not traffic; each publish re-enters its checkout's trace
        return await _relay_batch(pool, bus, batch)


@contextmanager
def checkout_trace(carrier: dict[str, str], name: str):
    """Make the checkout's stored trace context current (and instrumentation active) for a publish."""
    token = otel_context.attach(propagate.extract(carrier or {}))
    try:
        with tracer.start_as_current_span(name, kind=trace.SpanKind.INTERNAL):
            yield
    finally:
        otel_context.detach(token)


async def _relay_batch(pool, bus, batch: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, event_id, event, checkout_id, payload, trace_context FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            batch,
        )
        if not rows:
            return 0

        async def publish(row: asyncpg.Record) -> int | None:
            try:
                await runtime.faults.hit(f"publish:{row['event']}")
                with checkout_trace(row["trace_context"], f"outbox relay {row['event']}"):
                    await bus.publish(row["event"], row["payload"], message_id=str(row["event_id"]))
                return row["id"]
            except Exception as exc:
                log.warning("publishing %s failed: %s", row["event_id"], exc)
                return None

        results = await asyncio.gather(*(publish(r) for r in rows))
        sent = [rid for rid in results if rid is not None]
        failed = [r["id"] for r in rows if r["id"] not in sent]
        if sent:
            await conn.execute("UPDATE outbox SET sent_at = clock_timestamp(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])", sent)
            await conn.executemany(
                "INSERT INTO saga_steps (checkout_id, step, outcome, detail) VALUES ($1, 'event_published', 'ok', $2)",
                [(r["checkout_id"], {"event": r["event"], "event_id": str(r["event_id"])}) for r in rows if r["id"] in sent],
            )
        if failed:
            await conn.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1::bigint[])", failed)
    if failed:
        raise ConnectionError(f"{len(failed)} event(s) not confirmed by the broker")
    return len(sent)


async def relay_forever() -> None:
    backoff = 0.2
    while True:
        try:
            n = await relay_once()
            backoff = 0.2
            await _pending_gauge()
        except Exception as exc:
            log.warning("outbox relay paused: %s (retry in %.1fs)", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5)
            continue
        if n == 0:
            relay_wakeup.clear()
            try:
                await asyncio.wait_for(relay_wakeup.wait(), runtime.settings.outbox_poll_seconds)
            except TimeoutError:
                pass


async def _pending_gauge() -> None:
    from services.common import metrics

    with suppress_instrumentation():
        async with runtime.require_db().acquire() as conn:
            metrics.outbox_pending.labels(runtime.name).set(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


# --------------------------------------------------------------------------- reconciler


async def reconcile_once() -> int:
    """Finish compensation nobody could finish: checkouts abandoned half-way (the process died between
    authorise and store) and failed checkouts whose authorisation was still unaccounted for."""
    pool = runtime.require_db()
    with suppress_instrumentation():
        async with pool.acquire() as conn:
            abandoned = await conn.fetch(
                f"SELECT id FROM checkouts WHERE status = 'started' AND updated_at < now() - interval '{STUCK_AFTER_SECONDS} seconds' LIMIT 50"
            )
            pending = await conn.fetch(
                "SELECT id FROM checkouts WHERE compensation_pending AND updated_at < now() - interval '5 seconds' LIMIT 50"
            )
    for row in abandoned:
        problem = Problem(503, "The checkout was interrupted; any authorisation was voided. Please try again.",
                          title="Checkout interrupted")
        await _fail(pool, row["id"], problem, "reconciled")
        await compensate(pool, row["id"])
    for row in pending:
        await compensate(pool, row["id"])
    return len(abandoned) + len(pending)


async def reconcile_forever() -> None:
    while True:
        await asyncio.sleep(15)
        try:
            n = await reconcile_once()
            if n:
                log.info("reconciled %d abandoned checkout(s)", n)
        except Exception as exc:
            log.warning("reconciler: %s", exc)


def dumps(v: Any) -> str:
    return orjson.dumps(v).decode()
