"""The sixteen-service platform end to end, on the real datastores, as `make up` starts it."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import asyncpg
import orjson
import pytest
import redis

pytestmark = pytest.mark.platform

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_NO_FUNDS = "4000000000009995"


def stock(shop, product_id: str) -> int:
    r = shop.gateway.get(f"/api/inventory/{product_id}")
    assert r.status_code == 200, r.text
    return r.json()["available"]


def analytics(shop) -> dict:
    return shop.gateway.get("/api/analytics/summary").json()


def revenue(shop) -> int:
    return analytics(shop)["revenue_minor"].get("EUR", 0)


def fill_basket(shop, user, items: dict[str, int]) -> None:
    for pid, qty in items.items():
        r = shop.gateway.post("/api/cart/items", headers=user["headers"], json={"product_id": pid, "quantity": qty})
        assert r.status_code == 201, r.text


def checkout(shop, user, card=CARD_OK, key=None):
    return shop.gateway.post(
        "/api/orders/checkout", headers={**user["headers"], "Idempotency-Key": key or uuid.uuid4().hex},
        json={"card_number": card},
    )


def pg(shop, query: str, *args):
    async def run():
        conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=shop.run.database)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def notifications_for(shop, user) -> list[dict]:
    return shop.gateway.get("/api/users/me/notifications", headers=user["headers"]).json()["items"]


# --------------------------------------------------------------------------- the journey


def test_a_shopper_registers_browses_searches_and_checks_out_and_every_worker_reacts(shop):
    # GIVEN a new customer
    user = shop.user("journey")
    # WHEN they browse, search, and fill a basket with two products
    products = shop.gateway.get("/api/products", params={"limit": 50}).json()
    assert products["total"] >= 40
    hits = shop.gateway.get("/api/search", params={"q": "wireless headphones"}).json()
    assert hits["items"] and hits["items"][0]["id"] == "aurora-headphones"
    a, b = hits["items"][0]["id"], "trail-bottle"
    before = {a: stock(shop, a), b: stock(shop, b)}
    revenue_before = revenue(shop)
    fill_basket(shop, user, {a: 1, b: 2})
    basket = shop.gateway.get("/api/cart", headers=user["headers"]).json()
    assert basket["count"] == 3
    # AND check out
    r = checkout(shop, user)
    # THEN the order is confirmed
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "confirmed" and order["total_minor"] == basket["total_minor"]
    assert [s["step"] for s in order["steps"]][:4] == ["user_validated", "basket_priced", "payment_authorised", "order_stored"]
    # AND within seconds stock has dropped, one notification exists and revenue grew by the total
    shop.eventually(lambda: stock(shop, a) == before[a] - 1 and stock(shop, b) == before[b] - 2)
    notes = shop.eventually(lambda: [n for n in notifications_for(shop, user) if n["order_id"] == order["order_id"]])
    assert len(notes) == 1
    shop.eventually(lambda: revenue(shop) == revenue_before + order["total_minor"])
    # AND the basket is empty and the order history shows the order with its published event
    assert shop.gateway.get("/api/cart", headers=user["headers"]).json()["count"] == 0
    history = shop.gateway.get("/api/orders", headers=user["headers"]).json()
    assert [o["order_id"] for o in history["items"]] == [order["order_id"]]
    steps = shop.eventually(lambda: [s["step"] for s in shop.gateway.get(f"/api/orders/{order['order_id']}", headers=user["headers"]).json()["steps"] if s["step"] == "event_published"])
    assert steps == ["event_published"]


def test_posting_a_review_changes_the_products_rating(shop):
    user = shop.user("critic")
    pid = "meridian-pen"
    before = shop.gateway.get(f"/api/reviews/{pid}").json()
    r = shop.gateway.post(f"/api/reviews/{pid}", headers=user["headers"], json={"rating": 5, "title": "Lovely nib", "body": "Writes on day one."})
    assert r.status_code == 201, r.text
    after = shop.gateway.get(f"/api/reviews/{pid}").json()
    assert after["count"] == before["count"] + 1
    assert after["reviews"][0]["title"] == "Lovely nib"
    ratings = shop.gateway.get("/api/ratings", params={"ids": pid}).json()["ratings"][pid]
    assert ratings == {"average": after["average"], "count": after["count"]}
    # a second review by the same customer is refused, and the rating is unchanged
    again = shop.gateway.post(f"/api/reviews/{pid}", headers=user["headers"], json={"rating": 1, "title": "Changed my mind"})
    assert again.status_code == 409
    assert shop.gateway.get(f"/api/reviews/{pid}").json()["count"] == after["count"]


# --------------------------------------------------------------------------- failures and duplicates


@pytest.mark.parametrize(("card", "code"), [(CARD_DECLINED, "card_declined"), (CARD_NO_FUNDS, "insufficient_funds")])
def test_a_declined_card_leaves_no_order_and_no_stock_change(shop, card, code):
    user = shop.user("declined")
    fill_basket(shop, user, {"wool-socks": 2})
    before = stock(shop, "wool-socks")
    r = checkout(shop, user, card=card)
    assert r.status_code == 402
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["decline_code"] == code
    assert shop.gateway.get("/api/orders", headers=user["headers"]).json()["total"] == 0
    assert shop.gateway.get("/api/cart", headers=user["headers"]).json()["count"] == 2  # the basket is kept for another card
    assert stock(shop, "wool-socks") == before
    rows = pg(shop, "SELECT status FROM payments.payments WHERE reference IN (SELECT id::text FROM orders.checkouts WHERE user_id = $1)", uuid.UUID(user["id"]))
    assert [r["status"] for r in rows] == ["declined"]


def test_a_fault_after_authorisation_voids_the_payment_and_stores_no_order(shop):
    user = shop.user("fault")
    fill_basket(shop, user, {"sun-cap": 1})
    shop.fault("orders", "orders.persist", remaining=1)
    r = checkout(shop, user)
    assert r.status_code == 503 and r.json()["payment_voided"] is True
    assert shop.gateway.get("/api/orders", headers=user["headers"]).json()["total"] == 0
    rows = pg(shop, "SELECT p.status FROM payments.payments p JOIN orders.checkouts c ON p.reference = c.id::text WHERE c.user_id = $1", uuid.UUID(user["id"]))
    assert [r["status"] for r in rows] == ["voided"]
    # the same customer can simply try again
    again = checkout(shop, user)
    assert again.status_code == 201


def test_the_same_idempotency_key_gives_one_order_and_one_charge(shop):
    user = shop.user("twice")
    fill_basket(shop, user, {"compass-pro": 1})
    key = uuid.uuid4().hex
    first = checkout(shop, user, key=key)
    second = checkout(shop, user, key=key)
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json()["order_id"] == second.json()["order_id"]
    assert shop.gateway.get("/api/orders", headers=user["headers"]).json()["total"] == 1
    payments = pg(shop, "SELECT count(*) AS n FROM payments.payments WHERE reference IN (SELECT id::text FROM orders.checkouts WHERE user_id = $1)", uuid.UUID(user["id"]))
    assert payments[0]["n"] == 1


def test_concurrent_checkouts_with_one_key_create_one_order(shop):
    import concurrent.futures

    user = shop.user("racer")
    fill_basket(shop, user, {"ink-bottle": 1})
    key = uuid.uuid4().hex
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = [f.result().status_code for f in [pool.submit(checkout, shop, user, CARD_OK, key) for _ in range(4)]]
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}
    assert shop.eventually(lambda: shop.gateway.get("/api/orders", headers=user["headers"]).json()["total"] == 1)


def test_a_redelivered_order_created_changes_nothing_twice(shop):
    user = shop.user("redelivery")
    fill_basket(shop, user, {"washi-set": 3})
    order = checkout(shop, user).json()
    shop.eventually(lambda: analytics(shop).get("orders") and any(r["order_id"] == order["order_id"] for r in analytics(shop)["recent"]))
    shop.eventually(lambda: notifications_for(shop, user))
    (row,) = pg(shop, "SELECT payload FROM orders.outbox o JOIN orders.orders d ON d.checkout_id = o.checkout_id WHERE d.id = $1",
                uuid.UUID(order["order_id"]))
    payload = orjson.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
    snapshot = (stock(shop, "washi-set"), revenue(shop), len(notifications_for(shop, user)), analytics(shop)["orders"])

    # WHEN the same event is delivered again (as after a lost ack)
    event = shop.model.event_by_name["order.created"]
    exchange = shop.model.exchange_by_name[event.exchange]

    async def redeliver() -> None:
        conn = await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:5672/{shop.run.vhost}")
        async with conn:
            ch = await conn.channel(publisher_confirms=True)
            x = await ch.get_exchange(exchange.name)
            for _ in range(2):
                await x.publish(aio_pika.Message(orjson.dumps(payload), message_id=payload["event_id"]), routing_key=event.routing_key)

    asyncio.run(redeliver())

    # THEN every worker records it as a duplicate and no effect changes
    def duplicates_seen() -> bool:
        total = 0
        for sub in event.subscriptions:
            text = shop.client(sub.consumer).get("/metrics").text
            total += sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                         if line.startswith("netshop_events_consumed_total") and 'outcome="duplicate"' in line)
        return total >= 2 * len(event.subscriptions)

    shop.eventually(duplicates_seen)
    assert (stock(shop, "washi-set"), revenue(shop), len(notifications_for(shop, user)), analytics(shop)["orders"]) == snapshot


def test_with_the_broker_unreachable_checkout_succeeds_and_the_event_is_delivered_after(shop):
    user = shop.user("outage")
    fill_basket(shop, user, {"spice-rack": 1})
    before = stock(shop, "spice-rack")
    # WHEN RabbitMQ becomes unreachable for the services
    shop.broker.cut()
    try:
        r = checkout(shop, user)
        # THEN checkout still succeeds and the order is kept
        assert r.status_code == 201, r.text
        order_id = r.json()["order_id"]
        import time

        time.sleep(1.5)
        pending = pg(shop, "SELECT sent_at FROM orders.outbox o JOIN orders.orders d ON d.checkout_id = o.checkout_id WHERE d.id = $1",
                     uuid.UUID(order_id))
        assert pending[0]["sent_at"] is None
        assert stock(shop, "spice-rack") == before
    finally:
        shop.broker.restore()
    # AND once the broker is back, the event goes out and every worker reacts
    shop.eventually(lambda: stock(shop, "spice-rack") == before - 1, timeout=30)
    shop.eventually(lambda: [n for n in notifications_for(shop, user) if n["order_id"] == order_id], timeout=30)


def test_an_empty_basket_cannot_be_checked_out(shop):
    user = shop.user("empty")
    r = checkout(shop, user)
    assert r.status_code == 409 and r.json()["title"] == "Empty basket"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("method", "path", "body", "raw", "status", "field"),
    [
        ("POST", "/api/cart/items", None, b'{"product_id": "tide-speaker", "quantity": ', 400, None),
        ("POST", "/api/cart/items", {"product_id": "tide-speaker", "quantity": "two"}, None, 422, "body.quantity"),
        ("POST", "/api/cart/items", {"product_id": "tide-speaker", "quantity": -1}, None, 422, "body.quantity"),
        ("POST", "/api/cart/items", {"product_id": "no-such-thing", "quantity": 1}, None, 404, "body.product_id"),
        ("POST", "/api/reviews/tide-speaker", {"rating": 9, "title": "x"}, None, 422, "body.rating"),
        ("POST", "/api/orders/checkout", {"card_number": "1234"}, None, 422, "body.card_number"),
        ("GET", "/api/products?limit=abc", None, None, 422, "query.limit"),
        ("GET", "/api/products/DROP%20TABLE", None, None, 422, "path.product_id"),
        ("POST", "/api/auth/register", {"email": "not-an-email", "password": "short", "name": ""}, None, 422, "body.email"),
    ],
)
def test_bad_input_gets_a_clear_4xx_problem_naming_the_field(shop, method, path, body, raw, status, field):
    user = shop.user("badinput")
    headers = {**user["headers"], "Idempotency-Key": uuid.uuid4().hex}
    if raw is not None:
        r = shop.gateway.request(method, path, content=raw, headers={**headers, "content-type": "application/json"})
    else:
        r = shop.gateway.request(method, path, json=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == status and problem["detail"]
    if field:
        named = {e["field"] for e in problem.get("errors", [])} | ({problem["field"]} if "field" in problem else set())
        assert field in named, problem


@pytest.mark.parametrize("token", [None, "not.a.jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_a_missing_or_forged_token_is_refused_with_401(shop, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = shop.gateway.get("/api/cart", headers=headers)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


def test_a_token_signed_with_another_key_is_refused(shop):
    import time

    import jwt

    forged = jwt.encode({"sub": str(uuid.uuid4()), "iat": int(time.time()), "exp": int(time.time()) + 60, "iss": "netshop-auth",
                         "aud": "netshop"}, "not-the-secret", algorithm="HS256")
    r = shop.gateway.get("/api/orders", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["reason"] == "signature"


def test_repeated_failed_logins_are_rate_limited(shop):
    user = shop.user("brute")
    codes = [shop.gateway.post("/api/auth/login", json={"email": user["email"], "password": f"wrong-{i}"}).status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    # even the right password waits out the window
    assert shop.gateway.post("/api/auth/login", json={"email": user["email"], "password": user["password"]}).status_code == 429


def test_unknown_routes_and_methods_are_problems_not_pages(shop):
    r = shop.gateway.get("/api/nowhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = shop.gateway.delete("/api/products")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_oversized_bodies_are_refused(shop):
    user = shop.user("big")
    r = shop.gateway.post("/api/reviews/tide-speaker", headers=user["headers"], content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413


def test_redis_keys_of_a_run_live_under_its_prefix(shop):
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = [k.decode() for k in client.scan_iter(match=f"{shop.run.key_prefix}:*", count=1000)]
    assert keys and all(k.startswith(shop.run.key_prefix + ":") for k in keys)
