"""search service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from services.common.app import ServiceRuntime
from services.common.catalogue import CatalogueSnapshot

from .index import Index

runtime = ServiceRuntime("search")
state: dict[str, Index] = {"index": Index()}
catalogue = CatalogueSnapshot(runtime, ttl=60, on_refresh=lambda items: state.update(index=Index.build(items)))


@runtime.app.get("/search", summary="Ranked search with category and price filters")
async def search(
    q: Annotated[str, Query(max_length=200, description="Search words")] = "",
    category: Annotated[str | None, Query(max_length=40)] = None,
    min_price: Annotated[int | None, Query(ge=0)] = None,
    max_price: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    products = await catalogue.ensure()
    index = state["index"]
    ranked = index.search(q) if q.strip() else [(pid, 0.0) for pid in sorted(products, key=lambda p: products[p]["name"])]

    def keep(p: dict) -> bool:
        return ((category is None or p["category"] == category) and (min_price is None or p["price_minor"] >= min_price)
                and (max_price is None or p["price_minor"] <= max_price))

    hits = [(products[pid], score) for pid, score in ranked if pid in products and keep(products[pid])]
    facets: dict[str, int] = {}
    for pid, _ in ranked:
        if pid in products:
            facets[products[pid]["category"]] = facets.get(products[pid]["category"], 0) + 1
    return {
        "query": q, "total": len(hits), "limit": limit, "offset": offset,
        "items": [{**p, "score": round(score, 4)} for p, score in hits[offset: offset + limit]],
        "facets": {"category": dict(sorted(facets.items()))},
    }


@runtime.when_ready
async def _warm(rt) -> None:
    try:
        await catalogue.ensure()
    except Exception:
        pass  # products may not be up yet; the first query loads it


app = runtime.app
