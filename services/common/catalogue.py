"""A periodically refreshed snapshot of the product catalogue, read through the products peer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from .app import ServiceRuntime

log = logging.getLogger("netshop.catalogue")


class CatalogueSnapshot:
    """All products, fetched page by page with `GET /products`, refreshed every `ttl` seconds."""

    def __init__(self, runtime: ServiceRuntime, ttl: float = 60.0, on_refresh: Callable[[list[dict]], None] | None = None):
        self.runtime, self.ttl, self.on_refresh = runtime, ttl, on_refresh
        self.products: dict[str, dict[str, Any]] = {}
        self.loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def fetch(self) -> list[dict]:
        peer = self.runtime.peers("products")
        items: list[dict] = []
        offset = 0
        while True:
            page = (await peer.get("/products", params={"limit": 100, "offset": offset})).expect(200)
            items += page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return items

    async def ensure(self) -> dict[str, dict[str, Any]]:
        """The snapshot, refreshed if stale (the first call waits for it)."""
        if time.monotonic() - self.loaded_at < self.ttl and self.products:
            return self.products
        async with self._lock:
            if time.monotonic() - self.loaded_at >= self.ttl or not self.products:
                try:
                    items = await self.fetch()
                    self.products = {p["id"]: p for p in items}
                    self.loaded_at = time.monotonic()
                    if self.on_refresh:
                        self.on_refresh(items)
                except Exception as exc:
                    if not self.products:
                        raise
                    log.warning("catalogue refresh failed, serving the last snapshot: %s", exc)
        return self.products
