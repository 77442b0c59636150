"""PostgreSQL: one pool per service, in the service's own schema, with versioned migrations at start-up.

Migrations are `services/<pkg>/migrations/NNNN_name.sql`, applied in order inside a transaction under
an advisory lock (replicas start together), and recorded in `<schema>.schema_migrations`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import orjson

from .identity import Identity

log = logging.getLogger("netshop.db")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (perf, bench/load.py): asyncpg still rolls back an open
    transaction before calling this; pooled connections never LISTEN, hold advisory locks, open cursors or SET
    session values (migrations use their own connection), so `RESET ALL; UNLISTEN *; ...` only cost one extra
    round trip per release."""


async def connect(identity: Identity, migrations: Path | None, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    ds = identity.datastore("postgres")
    if ds is None:
        raise RuntimeError(f"{identity.name} has no data edge to a postgres datastore in the model")
    dsn = identity.datastore_url(ds)
    schema = identity.schema
    # the schema must exist before a pool sets it as search_path
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        if migrations is not None:
            await migrate(conn, schema, migrations)
    finally:
        await conn.close()
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection,
        server_settings={"search_path": f'"{schema}",public', "application_name": identity.instance},
        command_timeout=10, reset=_keep_session,
    )


async def migrate(conn: asyncpg.Connection, schema: str, folder: Path) -> list[str]:
    """Apply pending migrations; return the versions applied now."""
    applied_now: list[str] = []
    lock = f"netshop-migrate-{schema}"
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock)
    try:
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations '
            "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')}
        for path in sorted(folder.glob("*.sql")):
            version = path.stem
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute(f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)', version)
            applied_now.append(version)
            log.info("applied migration %s.%s", schema, version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock)
    return applied_now
