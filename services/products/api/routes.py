"""Catalogue, prices, stock and images."""

from __future__ import annotations

from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.common.problems import Problem

from .. import db, images
from ..catalogue import CATEGORIES
from ..runtime import runtime

router = APIRouter()
ProductId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$", description="Product slug")]
SORTS = {"name": "name", "price": "price_minor", "-price": "price_minor DESC", "newest": "created_at DESC"}


class Product(BaseModel):
    id: str
    name: str
    category: str
    price_minor: int
    currency: str
    description: str
    tags: list[str]
    image: str
    stock: int | None = None


class ProductPage(BaseModel):
    items: list[Product]
    total: int
    limit: int
    offset: int


@router.get("/products", response_model=ProductPage, summary="List products with category and price filters")
async def list_products(
    category: Annotated[str | None, Query(max_length=40)] = None,
    min_price: Annotated[int | None, Query(ge=0)] = None,
    max_price: Annotated[int | None, Query(ge=0)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Substring of the name")] = None,
    sort: Literal["name", "price", "-price", "newest"] = "name",
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    where, args = [], []
    if category:
        args.append(category)
        where.append(f"category = ${len(args)}")
    if min_price is not None:
        args.append(min_price)
        where.append(f"price_minor >= ${len(args)}")
    if max_price is not None:
        args.append(max_price)
        where.append(f"price_minor <= ${len(args)}")
    if q:
        args.append(f"%{q}%")
        where.append(f"name ILIKE ${len(args)}")
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    pool = runtime.require_db()
    async with pool.acquire() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM products {clause}", *args)
        rows = await conn.fetch(
            f"SELECT {db.COLUMNS} FROM products {clause} ORDER BY {SORTS[sort]}, id LIMIT {limit} OFFSET {offset}", *args
        )
    return {"items": [db.to_api(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/products/categories", summary="Categories with product counts")
async def categories() -> list[dict]:
    async with runtime.require_db().acquire() as conn:
        rows = await conn.fetch("SELECT category, count(*) AS n FROM products GROUP BY category ORDER BY category")
    return [{"id": r["category"], "title": CATEGORIES.get(r["category"], (r["category"].title(), ""))[0], "count": r["n"]} for r in rows]


@router.get("/products/{product_id}", response_model=Product, summary="One product with its available stock")
async def get_product(product_id: ProductId) -> dict:
    async with runtime.require_db().acquire() as conn:
        row = await conn.fetchrow(f"SELECT {db.COLUMNS} FROM products WHERE id = $1", product_id)
        if row is None:
            raise Problem(404, f"No product {product_id!r}.", title="Unknown product")
        used = (await db.committed(conn, [product_id])).get(product_id, 0)
    return {**db.to_api(row), "stock": row["initial_stock"] - used}


class PriceQuery(BaseModel):
    product_ids: list[Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]] = Field(min_length=1, max_length=100)


@router.post("/products/prices", summary="Current prices of a set of products")
async def prices(query: PriceQuery) -> dict:
    async with runtime.require_db().acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, name, price_minor, currency FROM products WHERE id = ANY($1::text[])", query.product_ids
        )
    found = {r["id"]: {"name": r["name"], "price_minor": r["price_minor"], "currency": r["currency"].strip()} for r in rows}
    return {"prices": found, "unknown": sorted(set(query.product_ids) - set(found))}


@router.get("/inventory/{product_id}", summary="Stock level from the inventory worker's ledger")
async def stock(product_id: ProductId, order_id: Annotated[str | None, Query(max_length=64)] = None) -> dict:
    async with runtime.require_db().acquire() as conn:
        initial = await conn.fetchval("SELECT initial_stock FROM products WHERE id = $1", product_id)
        if initial is None:
            raise Problem(404, f"No product {product_id!r}.", title="Unknown product")
        used = (await db.committed(conn, [product_id])).get(product_id, 0)
        body = {"product_id": product_id, "initial": initial, "committed": used, "available": initial - used}
        if order_id:
            try:
                body["order_committed"] = await conn.fetchval(
                    "SELECT COALESCE(sum(quantity), 0) FROM inventory.stock_ledger WHERE order_id = $1 AND product_id = $2",
                    order_id, product_id,
                )
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                body["order_committed"] = 0
    return body


@router.get("/images/{image}", summary="Product image", response_class=Response)
async def image(image: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}\.svg$")]) -> Response:
    slug = image.removesuffix(".svg")
    async with runtime.require_db().acquire() as conn:
        row = await conn.fetchrow("SELECT name, category FROM products WHERE id = $1", slug)
    if row is None:
        raise Problem(404, f"No image {image!r}.", title="Unknown image")
    return Response(images.svg(slug, row["name"], row["category"]), media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})
