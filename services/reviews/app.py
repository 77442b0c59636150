"""reviews service."""

from __future__ import annotations

import uuid
from pathlib import Path as FsPath
from typing import Annotated

import asyncpg
from fastapi import Depends, Path, Query
from pydantic import BaseModel, Field

from services.common import context
from services.common.app import ServiceRuntime, current_user
from services.common.problems import Problem

runtime = ServiceRuntime("reviews", migrations=FsPath(__file__).parent / "migrations")
ProductId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL; refuse it as bad input naming the field


class NewReview(BaseModel):
    rating: int = Field(ge=1, le=5)
    title: str = Field(min_length=1, max_length=120, pattern=NO_NUL)
    body: str = Field(default="", max_length=4000, pattern=NO_NUL)


def _rating(count: int, total: int) -> dict:
    return {"average": round(total / count, 2) if count else None, "count": count}


def _author(email: str | None) -> str:
    local = (email or "customer").split("@", 1)[0]
    return local[:1].upper() + local[1:3] + "…" if len(local) > 3 else local


@runtime.app.get("/reviews/{product_id}", summary="Reviews and the aggregate rating of a product")
async def reviews(product_id: ProductId, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                  offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    async with runtime.require_db().acquire() as conn:
        agg = await conn.fetchrow("SELECT count, total FROM ratings WHERE product_id = $1", product_id)
        rows = await conn.fetch(
            "SELECT id, author, rating, title, body, created_at FROM reviews WHERE product_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            product_id, limit, offset,
        )
    return {
        "product_id": product_id,
        **_rating(agg["count"] if agg else 0, agg["total"] if agg else 0),
        "reviews": [{"id": str(r["id"]), "author": r["author"], "rating": r["rating"], "title": r["title"], "body": r["body"],
                     "created_at": r["created_at"].isoformat()} for r in rows],
    }


@runtime.app.post("/reviews/{product_id}", status_code=201, summary="Review a product")
async def add_review(product_id: ProductId, review: NewReview, user: str = Depends(current_user)) -> dict:
    resp = await runtime.peers("products").get(f"/products/{product_id}")
    if resp.status == 404:
        raise Problem(404, f"No product {product_id!r}.", title="Unknown product")
    resp.expect(200)
    review_id = uuid.uuid4()
    try:
        async with runtime.require_db().acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO reviews (id, product_id, user_id, author, rating, title, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                review_id, product_id, uuid.UUID(user), _author(context.user_email.get()), review.rating, review.title, review.body,
            )
            agg = await conn.fetchrow(
                """INSERT INTO ratings (product_id, count, total) VALUES ($1, 1, $2)
                   ON CONFLICT (product_id) DO UPDATE SET count = ratings.count + 1, total = ratings.total + EXCLUDED.total
                   RETURNING count, total""",
                product_id, review.rating,
            )
    except asyncpg.UniqueViolationError:
        raise Problem(409, "You have already reviewed this product.", title="Already reviewed") from None
    except ValueError:
        raise Problem(401, "The access token names no valid user.", title="Unauthorized") from None
    return {"id": str(review_id), "product_id": product_id, "rating": review.rating, **{"aggregate": _rating(agg["count"], agg["total"])}}


@runtime.app.get("/ratings", summary="Aggregate ratings of many products")
async def ratings(ids: Annotated[str, Query(max_length=4000, pattern=r"^[a-z0-9,-]*$", description="Comma-separated product ids")]) -> dict:
    wanted = [i for i in ids.split(",") if i][:200]
    async with runtime.require_db().acquire() as conn:
        rows = await conn.fetch("SELECT product_id, count, total FROM ratings WHERE product_id = ANY($1::text[])", wanted)
    found = {r["product_id"]: _rating(r["count"], r["total"]) for r in rows}
    return {"ratings": {pid: found.get(pid, _rating(0, 0)) for pid in wanted}}


app = runtime.app
