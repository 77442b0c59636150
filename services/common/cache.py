"""Redis: one client per service, keys namespaced by the run's prefix and the owning service.

With `NETSHOP_<NAME>_SENTINELS` (host:port,...) and `NETSHOP_<NAME>_SENTINEL_MASTER` set, as the
HA data tier's GitOps patch does, the client follows the master that Sentinel elects."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.sentinel import Sentinel

from .identity import Identity

OPTIONS = {"decode_responses": True, "socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30}


def connect(identity: Identity) -> redis.Redis:
    ds = identity.datastore("redis")
    if ds is None:
        raise RuntimeError(f"{identity.name} has no data edge to a redis datastore in the model")
    env = ds.name.upper().replace("-", "_")
    url = identity.datastore_url(ds)
    sentinels = os.environ.get(f"NETSHOP_{env}_SENTINELS")
    if sentinels:
        hosts = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in sentinels.split(",") if h.strip()]
        password = urlsplit(url).password
        sentinel = Sentinel(hosts, sentinel_kwargs={"socket_timeout": 2}, password=password, client_name=identity.instance, **OPTIONS)
        return sentinel.master_for(os.environ.get(f"NETSHOP_{env}_SENTINEL_MASTER", ds.name))
    return redis.from_url(url, max_connections=64, client_name=identity.instance, **OPTIONS)
