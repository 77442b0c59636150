"""inventory worker: one ledger row per order line, exactly once per event."""

from pathlib import Path

from services.common.app import ServiceRuntime
from services.common.worker import postgres_consumer, start_consuming

runtime = ServiceRuntime("inventory", migrations=Path(__file__).parent / "migrations")


async def commit_stock(conn, payload: dict) -> None:
    await conn.executemany(
        "INSERT INTO stock_ledger (event_id, order_id, product_id, quantity) VALUES ($1, $2, $3, $4)",
        [(payload["event_id"], payload["order_id"], line["product_id"], int(line["quantity"])) for line in payload["lines"]],
    )


start_consuming(runtime, postgres_consumer(runtime, commit_stock))
app = runtime.app
