"""Redis: one client per service, keys namespaced by the run's prefix and the owning service."""

from __future__ import annotations

import redis.asyncio as redis

from .identity import Identity


def connect(identity: Identity) -> redis.Redis:
    ds = identity.datastore("redis")
    if ds is None:
        raise RuntimeError(f"{identity.name} has no data edge to a redis datastore in the model")
    return redis.from_url(
        identity.datastore_url(ds), decode_responses=True, socket_connect_timeout=2, socket_timeout=5,
        health_check_interval=30, max_connections=64,
    )
