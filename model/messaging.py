"""Broker topology derived from the model, shared by the services (which declare it) and the HA data
family (whose operator declares it): both must agree argument for argument, or RabbitMQ refuses."""

from __future__ import annotations

from typing import Any

from .schema import Exchange, Subscription


def dead_letter_routing_key(sub: Subscription) -> str:
    """Dead-lettered messages carry their dead-letter queue's name, so each reaches only its own DLQ."""
    return sub.dead_letter_queue


def queue_arguments(exchange: Exchange, sub: Subscription) -> dict[str, Any]:
    """A subscription's quorum queue: a delivery limit, then at-least-once dead-lettering."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": sub.max_deliveries,
        "x-dead-letter-exchange": exchange.dead_letter_exchange,
        "x-dead-letter-routing-key": dead_letter_routing_key(sub),
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


DEAD_LETTER_QUEUE_ARGUMENTS: dict[str, Any] = {"x-queue-type": "quorum"}
DEAD_LETTER_EXCHANGE_TYPE = "direct"
