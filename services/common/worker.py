"""Exactly-once-in-effect consumption: the effect and the processed-event record commit together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from .app import ServiceRuntime

Effect = Callable[[asyncpg.Connection, dict[str, Any]], Awaitable[None]]


def postgres_consumer(runtime: ServiceRuntime, effect: Effect):
    """A bus handler that records the event id and applies the effect in one transaction.

    A redelivered event finds its id already recorded and changes nothing."""

    async def handle(event, sub, payload, message) -> str:
        await runtime.faults.hit(f"consume:{sub.queue}")
        async with runtime.require_db().acquire() as conn, conn.transaction():
            first = await conn.fetchval(
                "INSERT INTO processed_events (event_id, event) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                payload["event_id"], event.name,
            )
            if first is None:
                return "duplicate"
            await effect(conn, payload)
        return "processed"

    return handle


def start_consuming(runtime: ServiceRuntime, handler) -> None:
    @runtime.when_ready
    async def _consume(rt: ServiceRuntime) -> None:
        await rt.bus.consume(handler)
