"""Read side of orders: an order with its lines and the saga steps as they happened."""

from __future__ import annotations

import uuid

import asyncpg

from services.common.problems import Problem


async def order_view(pool: asyncpg.Pool, order_id: uuid.UUID, user_id: uuid.UUID) -> dict:
    async with pool.acquire() as conn:
        order = await conn.fetchrow("SELECT * FROM orders WHERE id = $1 AND user_id = $2", order_id, user_id)
        if order is None:
            raise Problem(404, f"No order {order_id}.", title="Unknown order")
        lines = await conn.fetch("SELECT * FROM order_lines WHERE order_id = $1 ORDER BY product_id", order_id)
        steps = await conn.fetch("SELECT step, outcome, detail, at FROM saga_steps WHERE checkout_id = $1 ORDER BY seq", order["checkout_id"])
    return {
        "order_id": str(order["id"]),
        "status": order["status"],
        "total_minor": order["total_minor"],
        "currency": order["currency"].strip(),
        "payment_id": str(order["payment_id"]),
        "email": order["email"],
        "created_at": order["created_at"].isoformat(),
        "lines": [
            {"product_id": r["product_id"], "name": r["name"], "quantity": r["quantity"], "unit_price_minor": r["unit_price_minor"],
             "line_total_minor": r["quantity"] * r["unit_price_minor"]}
            for r in lines
        ],
        "steps": [{"step": s["step"], "outcome": s["outcome"], "detail": s["detail"], "at": s["at"].isoformat()} for s in steps],
    }


async def list_orders(pool: asyncpg.Pool, user_id: uuid.UUID, limit: int, offset: int) -> dict:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT o.id, o.status, o.total_minor, o.currency, o.created_at, count(l.*) AS lines, sum(l.quantity) AS units
               FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.user_id = $1
               GROUP BY o.id ORDER BY o.created_at DESC LIMIT $2 OFFSET $3""",
            user_id, limit, offset,
        )
        total = await conn.fetchval("SELECT count(*) FROM orders WHERE user_id = $1", user_id)
    return {
        "items": [{"order_id": str(r["id"]), "status": r["status"], "total_minor": r["total_minor"], "currency": r["currency"].strip(),
                   "created_at": r["created_at"].isoformat(), "lines": r["lines"], "units": r["units"]} for r in rows],
        "total": total, "limit": limit, "offset": offset,
    }
