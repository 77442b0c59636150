"""Catalogue queries and the seed."""

from __future__ import annotations

from typing import Any

import asyncpg

from .catalogue import CURRENCY, PRODUCTS

COLUMNS = "id, name, category, price_minor, currency, description, tags, initial_stock"


async def seed(pool: asyncpg.Pool) -> int:
    """Load the seed catalogue once; existing rows are left alone."""
    rows = [(slug, name, cat, price, CURRENCY, desc, list(tags), stock) for slug, name, cat, price, stock, tags, desc in PRODUCTS]
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM products")
        await conn.executemany(
            f"INSERT INTO products ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO NOTHING", rows
        )
        return await conn.fetchval("SELECT count(*) FROM products") - before


def to_api(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "category": row["category"],
        "price_minor": row["price_minor"],
        "currency": row["currency"].strip(),
        "description": row["description"],
        "tags": list(row["tags"]),
        "image": f"/api/images/{row['id']}.svg",
    }


async def committed(conn: asyncpg.Connection, product_ids: list[str]) -> dict[str, int]:
    """Units the inventory worker has committed per product (its published `stock_committed` view)."""
    try:
        rows = await conn.fetch(
            "SELECT product_id, committed FROM inventory.stock_committed WHERE product_id = ANY($1::text[])", product_ids
        )
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return {}  # the inventory worker has not created its ledger yet: nothing committed
    return {r["product_id"]: int(r["committed"]) for r in rows}
