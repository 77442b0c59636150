"""notifications worker: one confirmation message per order, exactly once per event."""

from pathlib import Path

from services.common.app import ServiceRuntime
from services.common.worker import postgres_consumer, start_consuming

runtime = ServiceRuntime("notifications", migrations=Path(__file__).parent / "migrations")


def money(minor: int, currency: str) -> str:
    return f"{minor / 100:,.2f} {currency}"


def render(payload: dict) -> tuple[str, str]:
    short = payload["order_id"][:8]
    lines = "\n".join(
        f"  {line['quantity']} x {line['name']}  {money(line['quantity'] * line['unit_price_minor'], payload['currency'])}"
        for line in payload["lines"]
    )
    subject = f"Your NetShop order {short} is confirmed"
    body = (f"Thank you for your order {short}.\n\n{lines}\n\nTotal: {money(payload['total_minor'], payload['currency'])}\n"
            "We will let you know when it ships.")
    return subject, body


async def record(conn, payload: dict) -> None:
    subject, body = render(payload)
    await conn.execute(
        "INSERT INTO notifications (event_id, order_id, user_id, email, subject, body) VALUES ($1, $2, $3, $4, $5, $6)",
        payload["event_id"], payload["order_id"], payload["user_id"], payload["email"], subject, body,
    )


start_consuming(runtime, postgres_consumer(runtime, record))
app = runtime.app
