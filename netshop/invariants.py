"""The platform's end-state invariants: zero lost and zero duplicated effects, read from the datastores.

Each invariant is one small function over `Facts` (rows read once from PostgreSQL, Redis and RabbitMQ)
that returns a `Check` with its numbers. `netshop chaos` prints them after a fault-injection run; the
tests seed violations into a scratch database to prove that every check can fail.

A `scope` (customer ids) narrows the order-level checks to the checkouts one run made, so the checker
can run on a platform other tests share; without it every row counts.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
import orjson
import redis.asyncio as aioredis

from model.schema import NetShopModel

PAID = ("authorized", "captured")
UNDONE = ("voided", "declined")


@dataclass
class Stores:
    """Where one platform run keeps its data (the run's database, key prefix and vhost)."""

    database: str
    key_prefix: str
    vhost: str
    pg_port: int = 5432
    redis_port: int = 6379
    amqp_port: int = 5672

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{self.vhost}"


@dataclass
class Check:
    """One invariant's verdict: `value` is the number of violations (0 passes) and `numbers` the figures behind it."""

    name: str
    value: int
    target: str
    numbers: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.value == 0

    def as_result(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "target": self.target, "pass": self.passed,
                "numbers": self.numbers, "examples": self.examples[:5]}


@dataclass
class Queue:
    name: str
    ready: int
    unacked: int
    dead_letter: bool
    messages: list[dict] = field(default_factory=list)  # dead-lettered bodies (decoded or {"raw": ...})


@dataclass
class Facts:
    """Everything the invariants look at, read once."""

    checkouts: list[dict]
    orders: list[dict]
    lines: list[dict]
    payments: list[dict]
    outbox: list[dict]
    ledger: list[dict]
    notifications: list[dict]
    processed: dict[str, set[str]]  # consumer -> event ids it recorded as applied
    revenue: dict[str, int]  # analytics: revenue per currency (whole run)
    analytics_orders: int
    order_totals: dict[str, int]  # analytics: order id -> total it counted
    queues: list[Queue]
    scoped: bool


# --------------------------------------------------------------------------- reading


async def gather(model: NetShopModel, stores: Stores, scope: set[uuid.UUID] | None = None) -> Facts:
    conn = await asyncpg.connect(host="127.0.0.1", port=stores.pg_port, user="postgres", database=stores.database)
    try:
        await conn.set_type_codec("jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog")
        users = list(scope) if scope is not None else None
        where = "WHERE c.user_id = ANY($1::uuid[])" if users is not None else ""
        args = [users] if users is not None else []

        async def rows(sql: str) -> list[dict]:
            return [dict(r) for r in await conn.fetch(sql, *args)]

        checkouts = await rows(f"SELECT c.id::text, c.status, c.order_id::text, c.payment_id::text, c.compensation_pending FROM orders.checkouts c {where}")
        orders = await rows(f"SELECT o.id::text, o.checkout_id::text, o.total_minor, o.currency, o.payment_id::text FROM orders.orders o JOIN orders.checkouts c ON c.id = o.checkout_id {where}")
        lines = await rows(f"SELECT l.order_id::text, l.product_id, l.quantity FROM orders.order_lines l JOIN orders.orders o ON o.id = l.order_id JOIN orders.checkouts c ON c.id = o.checkout_id {where}")
        outbox = await rows(f"SELECT x.event_id::text, x.event, x.checkout_id::text, x.sent_at IS NOT NULL AS sent, x.payload->>'order_id' AS order_id FROM orders.outbox x JOIN orders.checkouts c ON c.id = x.checkout_id {where}")
        payments = await rows(f"SELECT p.id::text, p.reference, p.status FROM payments.payments p JOIN orders.checkouts c ON p.reference = c.id::text {where}")
        if users is None:  # a payment nobody's checkout refers to is a violation too
            payments += [dict(r) for r in await conn.fetch(
                "SELECT p.id::text, p.reference, p.status FROM payments.payments p WHERE NOT EXISTS (SELECT 1 FROM orders.checkouts c WHERE c.id::text = p.reference)")]
        order_filter = "WHERE order_id = ANY($1::text[])" if users is not None else ""
        oargs = [[o["id"] for o in orders]] if users is not None else []
        ledger = [dict(r) for r in await conn.fetch(f"SELECT order_id, product_id, quantity, event_id::text FROM inventory.stock_ledger {order_filter}", *oargs)]
        notifications = [dict(r) for r in await conn.fetch(f"SELECT order_id, event_id::text FROM notifications.notifications {order_filter}", *oargs)]
        processed: dict[str, set[str]] = {}
        event_ids = [x["event_id"] for x in outbox]
        for consumer in _consumers(model):
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{consumer.replace('-', '_')}.processed_events"):
                recorded = await conn.fetch(f'SELECT event_id::text FROM "{consumer.replace("-", "_")}".processed_events')
                processed[consumer] = {r["event_id"] for r in recorded}
    finally:
        await conn.close()
    r = aioredis.Redis(host="127.0.0.1", port=stores.redis_port, decode_responses=True)
    try:
        key = lambda *p: ":".join((stores.key_prefix, "analytics", *p))  # noqa: E731
        revenue = {k: int(v) for k, v in (await r.hgetall(key("revenue"))).items()}
        analytics_orders = int(await r.get(key("orders")) or 0)
        totals = await r.hgetall(key("order-totals"))
        order_totals = {k: int(v) for k, v in totals.items()}
        if "analytics" in _consumers(model) and "analytics" not in processed:
            markers = await r.mget([key("processed", e) for e in event_ids]) if event_ids else []
            processed["analytics"] = {e for e, m in zip(event_ids, markers, strict=True) if m is not None}
    finally:
        await r.aclose()
    queues = await read_queues(model, stores)
    return Facts(checkouts, orders, lines, payments, outbox, ledger, notifications, processed, revenue, analytics_orders,
                 order_totals, queues, scoped=scope is not None)


def _consumers(model: NetShopModel) -> list[str]:
    return sorted({s.consumer for e in model.events for s in e.subscriptions})


def _rabbitmqctl_queues(vhost: str) -> dict[str, tuple[int, int]]:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    proc = subprocess.run([exe, "-q", "list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged"],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"rabbitmqctl list_queues failed: {proc.stderr.strip()}")
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            out[parts[0]] = (int(parts[1]), int(parts[2]))
    return out


async def read_queues(model: NetShopModel, stores: Stores) -> list[Queue]:
    """Ready and unacknowledged counts of every subscription queue and DLQ, and the DLQs' messages (peeked:
    taken unacknowledged, then returned when the channel closes). Ready counts come from a passive declare
    (exact); unacknowledged ones from rabbitmqctl (its statistics lag by a few seconds)."""
    counts = await asyncio.to_thread(_rabbitmqctl_queues, stores.vhost)
    queues = []
    conn = await aio_pika.connect(stores.amqp_url, timeout=10)
    try:
        channel = await conn.channel()
        for event in model.events:
            for sub in event.subscriptions:
                for name, dead in ((sub.queue, False), (sub.dead_letter_queue, True)):
                    try:
                        declared = await channel.declare_queue(name, passive=True)
                        ready = declared.declaration_result.message_count or 0
                    except aio_pika.exceptions.ChannelClosed:  # never declared: nothing was ever queued there
                        channel = await conn.channel()
                        ready = 0
                    q = Queue(name, ready, counts.get(name, (0, 0))[1], dead)
                    if dead and ready:
                        queue = await channel.get_queue(name, ensure=False)
                        for _ in range(min(ready, 200)):
                            msg = await queue.get(no_ack=False, fail=False)
                            if msg is None:
                                break
                            try:
                                body = orjson.loads(msg.body)
                            except orjson.JSONDecodeError:
                                body = {"raw": msg.body[:200].decode("utf-8", "replace")}
                            q.messages.append({"consumer": sub.consumer, "body": body if isinstance(body, dict) else {"raw": str(body)[:200]},
                                               "required": sorted(f.name for f in event.payload)})
                    queues.append(q)
        await channel.close()  # returns the peeked messages to their DLQs
    finally:
        await conn.close()
    return queues


# --------------------------------------------------------------------------- the invariants


def every_checkout_resolved(f: Facts) -> Check:
    """A checkout ends completed (with its order) or failed (with nothing left to compensate)."""
    started = [c["id"] for c in f.checkouts if c["status"] == "started"]
    pending = [c["id"] for c in f.checkouts if c["compensation_pending"]]
    by_status = Counter(c["status"] for c in f.checkouts)
    return Check("every checkout resolved (none in flight, none awaiting compensation)", len(started) + len(pending), "0 unresolved",
                 {"checkouts": len(f.checkouts), "completed": by_status["completed"], "failed": by_status["failed"],
                  "started": len(started), "compensation_pending": len(pending)}, started + pending)


def accepted_orders_paid_and_announced_once(f: Facts) -> Check:
    """Every accepted order has exactly one authorised (or captured) payment, the one it names, and exactly one
    `order.created`, published."""
    pays = defaultdict(list)
    for p in f.payments:
        pays[p["reference"]].append(p)
    events = defaultdict(list)
    for x in f.outbox:
        if x["event"] == "order.created":
            events[x["checkout_id"]].append(x)
    bad, one_payment, one_event = [], 0, 0
    for o in f.orders:
        paid = [p for p in pays[o["checkout_id"]] if p["status"] in PAID]
        ok_pay = len(paid) == 1 and paid[0]["id"] == o["payment_id"] and len(pays[o["checkout_id"]]) == 1
        evs = events[o["checkout_id"]]
        ok_event = len(evs) == 1 and evs[0]["sent"] and evs[0]["order_id"] == o["id"]
        one_payment += ok_pay
        one_event += ok_event
        if not (ok_pay and ok_event):
            bad.append(f"order {o['id']}: {len(paid)} paid payment(s) of {len(pays[o['checkout_id']])}, "
                       f"{len(evs)} order.created ({sum(e['sent'] for e in evs)} published)")
    completed = {c["id"] for c in f.checkouts if c["status"] == "completed"}
    stored = {o["checkout_id"] for o in f.orders}
    for c in sorted(completed ^ stored):
        bad.append(f"checkout {c}: completed={c in completed} but order stored={c in stored}")
    return Check("accepted order: exactly one authorised/captured payment and one order.created", len(bad), "0 violations",
                 {"orders": len(f.orders), "with_one_paid_payment": one_payment, "with_one_order_created": one_event,
                  "events_published": sum(x["sent"] for x in f.outbox)}, bad)


def failed_checkouts_leave_nothing(f: Facts) -> Check:
    """Every failed checkout has no order, and any authorisation it made is voided (or was declined)."""
    pays = defaultdict(list)
    for p in f.payments:
        pays[p["reference"]].append(p)
    ordered = {o["checkout_id"] for o in f.orders}
    failed = [c for c in f.checkouts if c["status"] == "failed"]
    known = {c["id"] for c in f.checkouts}
    bad = []
    numbers = Counter()
    for c in failed:
        statuses = [p["status"] for p in pays[c["id"]]]
        numbers["voided"] += statuses.count("voided")
        numbers["declined"] += statuses.count("declined")
        numbers["never_authorised"] += not statuses
        if c["id"] in ordered or any(s not in UNDONE for s in statuses):
            bad.append(f"checkout {c['id']}: order={'yes' if c['id'] in ordered else 'no'}, payments={statuses}")
    orphans = [p for p in f.payments if p["reference"] not in known and p["status"] not in UNDONE]
    bad += [f"payment {p['id']} ({p['status']}) belongs to no checkout" for p in orphans]
    return Check("failed checkout: no order and its authorisation voided", len(bad), "0 violations",
                 {"failed": len(failed), **numbers, "orphan_payments": len(orphans)}, bad)


def stock_decreased_once_per_line(f: Facts) -> Check:
    """The inventory ledger holds exactly one row per order line, with its quantity, and nothing else."""
    want = {(l["order_id"], l["product_id"]): l["quantity"] for l in f.lines}
    have = Counter((r["order_id"], r["product_id"]) for r in f.ledger)
    qty = {(r["order_id"], r["product_id"]): r["quantity"] for r in f.ledger}
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    twice = [k for k, n in have.items() if n > 1]
    wrong = [k for k in want if k in qty and qty[k] != want[k]]
    bad = [f"missing {k}" for k in missing] + [f"no such order line {k}" for k in extra] + \
          [f"{k} applied {have[k]} times" for k in twice] + [f"{k}: {qty[k]} units, ordered {want[k]}" for k in wrong]
    return Check("stock decreased exactly once per order line", len(bad), "0 violations",
                 {"order_lines": len(want), "ledger_rows": len(f.ledger), "units_ordered": sum(want.values()),
                  "units_committed": sum(r["quantity"] for r in f.ledger), "missing": len(missing),
                  "extra": len(extra) + len(twice), "wrong_quantity": len(wrong)}, bad)


def one_notification_per_order(f: Facts) -> Check:
    per = Counter(n["order_id"] for n in f.notifications)
    ids = {o["id"] for o in f.orders}
    missing = [o for o in ids if per[o] == 0]
    dup = [o for o, n in per.items() if n > 1]
    stray = [o for o in per if o not in ids]
    bad = [f"order {o}: no notification" for o in missing] + [f"order {o}: {per[o]} notifications" for o in dup] + \
          [f"notification for unknown order {o}" for o in stray]
    return Check("exactly one notification per order", len(bad), "0 violations",
                 {"orders": len(ids), "notifications": len(f.notifications), "missing": len(missing),
                  "duplicated": len(dup), "stray": len(stray)}, bad)


def analytics_revenue_matches_orders(f: Facts) -> Check:
    """Analytics counted each order once at its total; unscoped, its revenue per currency equals the sum of order totals."""
    bad = []
    counted = 0
    for o in f.orders:
        got = f.order_totals.get(o["id"])
        counted += got is not None
        if got != o["total_minor"]:
            bad.append(f"order {o['id']}: analytics has {got}, order total {o['total_minor']}")
    sums: dict[str, int] = defaultdict(int)
    for o in f.orders:
        sums[o["currency"].strip()] += o["total_minor"]
    numbers = {"orders": len(f.orders), "orders_counted": counted, "order_totals_minor": sum(sums.values())}
    if not f.scoped:
        numbers |= {"analytics_revenue_minor": sum(f.revenue.values()), "analytics_orders": f.analytics_orders}
        for cur in sorted(set(sums) | set(f.revenue)):
            if f.revenue.get(cur, 0) != sums.get(cur, 0):
                bad.append(f"{cur}: analytics revenue {f.revenue.get(cur, 0)} != order totals {sums.get(cur, 0)}")
        if f.analytics_orders != len(f.orders):
            bad.append(f"analytics counted {f.analytics_orders} orders, {len(f.orders)} exist")
    else:
        numbers["analytics_revenue_minor"] = sum(f.order_totals.get(o["id"], 0) for o in f.orders)
    return Check("analytics revenue == sum of order totals", len(bad), "0 violations", numbers, bad)


def every_consumer_applied_every_event_once(f: Facts) -> Check:
    """Each model subscription's consumer recorded every published order.created (its exactly-once marker)."""
    published = {x["event_id"] for x in f.outbox if x["sent"]}
    bad, numbers = [], {"events": len(published)}
    for consumer, seen in sorted(f.processed.items()):
        missing = published - seen
        numbers[f"{consumer}_applied"] = len(published & seen)
        bad += [f"{consumer} never applied {e}" for e in sorted(missing)]
    return Check("every consumer applied every event", len(bad), "0 violations", numbers, bad)


def no_message_stranded(f: Facts) -> Check:
    """No message is left ready or unacknowledged, and every dead-lettered one is explained: a malformed
    (poison) payload, or a copy of an event whose effect the consumer has already applied."""
    bad, explained = [], 0
    for q in f.queues:
        if not q.dead_letter and (q.ready or q.unacked):
            bad.append(f"{q.name}: {q.ready} ready, {q.unacked} unacknowledged")
        if q.dead_letter:
            for m in q.messages:
                body = m["body"]
                poison = "raw" in body or not set(m["required"]) <= set(body)
                applied = not poison and str(body.get("event_id")) in f.processed.get(m["consumer"], set())
                if poison or applied:
                    explained += 1
                else:
                    bad.append(f"{q.name}: event {body.get('event_id')} dead-lettered and never applied")
            if q.unacked:
                bad.append(f"{q.name}: {q.unacked} unacknowledged")
    return Check("no message unacknowledged or dead-lettered without explanation", len(bad), "0 violations",
                 {"queues": sum(not q.dead_letter for q in f.queues), "ready": sum(q.ready for q in f.queues if not q.dead_letter),
                  "unacknowledged": sum(q.unacked for q in f.queues),
                  "dead_lettered": sum(q.ready for q in f.queues if q.dead_letter), "dead_lettered_explained": explained}, bad)


INVARIANTS = (
    every_checkout_resolved,
    accepted_orders_paid_and_announced_once,
    failed_checkouts_leave_nothing,
    stock_decreased_once_per_line,
    one_notification_per_order,
    analytics_revenue_matches_orders,
    every_consumer_applied_every_event_once,
    no_message_stranded,
)


def evaluate(facts: Facts) -> list[Check]:
    return [rule(facts) for rule in INVARIANTS]


async def check(model: NetShopModel, stores: Stores, scope: set[uuid.UUID] | None = None) -> list[Check]:
    return evaluate(await gather(model, stores, scope))


def settled(checks: list[Check]) -> bool:
    """Nothing is still moving: no checkout in flight, no unpublished event, no queued message."""
    by = {c.name: c for c in checks}
    resolved = by[every_checkout_resolved(_EMPTY).name].value == 0
    msgs = by[no_message_stranded(_EMPTY).name].numbers
    events = by[accepted_orders_paid_and_announced_once(_EMPTY).name].numbers
    return resolved and msgs["ready"] == 0 and msgs["unacknowledged"] == 0 and events["events_published"] >= events["orders"]


_EMPTY = Facts([], [], [], [], [], [], [], {}, {}, 0, {}, [], scoped=True)


async def settle(model: NetShopModel, stores: Stores, scope: set[uuid.UUID] | None = None, timeout: float = 120.0,
                 quiet: float = 6.0) -> list[Check]:
    """Wait until the platform has settled (or time runs out), then check: returns the final verdicts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    stable_since = None
    while True:
        checks = await check(model, stores, scope)
        now = loop.time()
        if settled(checks) and all(c.passed for c in checks):
            return checks
        if settled(checks):
            stable_since = stable_since or now
            if now - stable_since >= quiet:  # settled, yet violated: give stragglers a moment, then report
                return checks
        else:
            stable_since = None
        if now >= deadline:
            return checks
        await asyncio.sleep(1.0)
