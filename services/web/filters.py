"""Jinja filters: money, ratings, times and the saga's step names in words."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
STEP_TITLES = {
    "user_validated": "User validated",
    "basket_priced": "Basket priced",
    "payment_authorised": "Payment authorised",
    "order_stored": "Order stored",
    "event_published": "Event published",
}


def money(minor: int | None, currency: str = "EUR") -> str:
    if minor is None:
        return "—"
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{units:,}.{cents:02d}"


def stars(average: float | None) -> list[str]:
    """Five star states ("full", "half", "empty") for an average rating."""
    avg = average or 0.0
    out = []
    for i in range(1, 6):
        out.append("full" if avg >= i - 0.25 else "half" if avg >= i - 0.75 else "empty")
    return out


def rating_label(rating: dict | None) -> str:
    if not rating or not rating.get("count"):
        return "Not rated yet"
    n = rating["count"]
    return f"Rated {rating['average']:.1f} out of 5 from {n} review{'s' if n != 1 else ''}"


def when(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).strftime("%d %b %Y, %H:%M:%S")


def offset_ms(iso: str, start_iso: str) -> str:
    delta = (datetime.fromisoformat(iso) - datetime.fromisoformat(start_iso)).total_seconds() * 1000
    return f"+{delta:.0f} ms"


def step_title(step: str) -> str:
    return STEP_TITLES.get(step, step.replace("_", " ").capitalize())


def number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def install(env: Environment) -> None:
    env.filters.update(money=money, stars=stars, rating_label=rating_label, when=when, offset_ms=offset_ms,
                       step_title=step_title, number=number)
