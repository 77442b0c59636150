"""The caller's basket. Lines keep the price seen when added; checkout re-prices every line."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from services.common.app import current_user
from services.common.problems import Problem

from ..runtime import runtime

router = APIRouter()
MAX_QTY = 99
ProductId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]


class NewItem(BaseModel):
    product_id: str = Field(pattern=r"^[a-z0-9-]{1,64}$")
    quantity: int = Field(default=1, ge=1, le=MAX_QTY)


class Quantity(BaseModel):
    quantity: int = Field(ge=0, le=MAX_QTY, description="0 removes the line")


def _keys(user: str) -> tuple[str, str]:
    return runtime.identity.key(user, "qty"), runtime.identity.key(user, "line")


async def _basket(user: str) -> dict:
    qty_key, line_key = _keys(user)
    redis = runtime.require_redis()
    async with redis.pipeline(transaction=True) as pipe:
        qty, lines = await pipe.hgetall(qty_key).hgetall(line_key).execute()
    items = []
    for pid in sorted(qty):
        meta = orjson.loads(lines.get(pid, "{}"))
        n = int(qty[pid])
        price = int(meta.get("price_minor", 0))
        items.append({"product_id": pid, "name": meta.get("name", pid), "quantity": n, "unit_price_minor": price,
                      "line_total_minor": n * price, "currency": meta.get("currency", "EUR")})
    currency = items[0]["currency"] if items else "EUR"
    return {"items": items, "count": sum(i["quantity"] for i in items), "total_minor": sum(i["line_total_minor"] for i in items),
            "currency": currency}


@router.get("/cart", summary="The caller's basket")
async def get_cart(user: str = Depends(current_user)) -> dict:
    return await _basket(user)


@router.post("/cart/items", status_code=201, summary="Add a product to the basket")
async def add_item(item: NewItem, user: str = Depends(current_user)) -> dict:
    resp = await runtime.peers("products").post("/products/prices", json={"product_ids": [item.product_id]})
    priced = resp.expect(200)
    if item.product_id in priced["unknown"]:
        raise Problem(404, f"No product {item.product_id!r}.", title="Unknown product", field="body.product_id")
    meta = orjson.dumps(priced["prices"][item.product_id]).decode()
    qty_key, line_key = _keys(user)
    ttl = runtime.settings.cart_ttl_seconds
    redis = runtime.require_redis()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hincrby(qty_key, item.product_id, item.quantity).hset(line_key, item.product_id, meta)
        pipe.expire(qty_key, ttl).expire(line_key, ttl)
        new_qty, *_ = await pipe.execute()
    if new_qty > MAX_QTY:
        await redis.hincrby(qty_key, item.product_id, -item.quantity)
        raise Problem(422, f"At most {MAX_QTY} of one product fit in a basket.", title="Validation failed", field="body.quantity")
    return await _basket(user)


@router.put("/cart/items/{product_id}", summary="Set a line's quantity")
async def set_quantity(product_id: ProductId, body: Quantity, user: str = Depends(current_user)) -> dict:
    qty_key, line_key = _keys(user)
    redis = runtime.require_redis()
    if not await redis.hexists(qty_key, product_id):
        raise Problem(404, f"{product_id!r} is not in the basket.", title="Not in basket")
    async with redis.pipeline(transaction=True) as pipe:
        if body.quantity == 0:
            pipe.hdel(qty_key, product_id).hdel(line_key, product_id)
        else:
            pipe.hset(qty_key, product_id, body.quantity)
        pipe.expire(qty_key, runtime.settings.cart_ttl_seconds).expire(line_key, runtime.settings.cart_ttl_seconds)
        await pipe.execute()
    return await _basket(user)


@router.delete("/cart/items/{product_id}", summary="Remove a line")
async def remove_item(product_id: ProductId, user: str = Depends(current_user)) -> dict:
    qty_key, line_key = _keys(user)
    redis = runtime.require_redis()
    async with redis.pipeline(transaction=True) as pipe:
        removed, _ = await pipe.hdel(qty_key, product_id).hdel(line_key, product_id).execute()
    if not removed:
        raise Problem(404, f"{product_id!r} is not in the basket.", title="Not in basket")
    return await _basket(user)


@router.delete("/cart", status_code=204, summary="Empty the basket")
async def clear(user: str = Depends(current_user)) -> Response:
    await runtime.require_redis().delete(*_keys(user))
    return Response(status_code=204)
