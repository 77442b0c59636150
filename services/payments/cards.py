"""Test cards: documented numbers that always decline, so every failure path can be exercised."""

from __future__ import annotations

# number -> decline code (None: approved)
TEST_CARDS: dict[str, str | None] = {
    "4242424242424242": None,                 # approved
    "5555555555554444": None,                 # approved (Mastercard)
    "4000000000000002": "card_declined",      # always declines
    "4000000000009995": "insufficient_funds", # declines for lack of funds
    "4000000000000069": "expired_card",       # declines as expired
}
DECLINE_MESSAGES = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "expired_card": "The card has expired.",
}


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def decide(number: str) -> str | None:
    """The decline code for a card, or None when approved. Unknown valid cards are approved."""
    return TEST_CARDS.get(number)
