"""recommendations service. It reads the analytics worker's Redis records (a read-model contract)
and the catalogue through products; it also serves the analytics summary."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Path, Query

from services.common.app import ServiceRuntime
from services.common.catalogue import CatalogueSnapshot

runtime = ServiceRuntime("recommendations")
catalogue = CatalogueSnapshot(runtime, ttl=60)
ANALYTICS = "analytics"  # owner of the records read here


def akey(*parts: str) -> str:
    return runtime.identity.foreign_key(ANALYTICS, *parts)


def similar(products: dict[str, dict], product: dict, exclude: set[str], limit: int) -> list[dict]:
    """Same category first, then shared tags, then closest price."""
    tags = set(product.get("tags", []))

    def affinity(p: dict) -> tuple:
        return (p["category"] != product["category"], -len(tags & set(p.get("tags", []))), abs(p["price_minor"] - product["price_minor"]), p["id"])

    pool = [p for pid, p in products.items() if pid not in exclude]
    return sorted(pool, key=affinity)[:limit]


@runtime.app.get("/recommendations/{product_id}", summary="Products to show next to a product")
async def recommend(product_id: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")],
                    limit: Annotated[int, Query(ge=1, le=20)] = 4) -> dict:
    products = await catalogue.ensure()
    product = products.get(product_id)
    if product is None:
        resp = await runtime.peers("products").get(f"/products/{product_id}")
        product = resp.expect(200)
    bought = await runtime.require_redis().zrevrange(akey("copurchase", product_id), 0, limit * 2, withscores=True)
    items, seen = [], {product_id}
    for pid, score in bought:
        if pid in products and pid not in seen and len(items) < limit:
            items.append({**products[pid], "reason": "bought-together", "score": int(score)})
            seen.add(pid)
    for p in similar(products, product, seen, limit - len(items)):
        items.append({**p, "reason": "similar", "score": 0})
    return {"product_id": product_id, "items": items}


@runtime.app.get("/analytics/summary", summary="Revenue, units and top products from the analytics read model")
async def summary(order_id: Annotated[str | None, Query(max_length=64)] = None,
                  top: Annotated[int, Query(ge=1, le=50)] = 5) -> dict:
    redis = runtime.require_redis()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(akey("orders")).hgetall(akey("units")).lrange(akey("recent"), 0, 9).hgetall(akey("revenue"))
        orders, units, recent, revenue = await pipe.execute()
    products = await catalogue.ensure() if units else {}
    top_units = sorted(((pid, int(n)) for pid, n in units.items()), key=lambda kv: (-kv[1], kv[0]))[:top]
    body = {
        "orders": int(orders or 0),
        "revenue_minor": {currency: int(v) for currency, v in sorted(revenue.items())},
        "units": sum(int(n) for n in units.values()),
        "top_products": [{"product_id": pid, "name": products.get(pid, {}).get("name", pid), "units": n} for pid, n in top_units],
        "recent": [orjson.loads(r) for r in recent],
    }
    if order_id:
        total = await redis.hget(akey("order-totals"), order_id)
        body["order"] = {"order_id": order_id, "recorded": total is not None, "total_minor": int(total) if total else None}
    return body



app = runtime.app
