"""RabbitMQ, from the model: exchanges, quorum queues with dead-lettering, confirmed publishing, consuming.

Topology (exchange, dead-letter exchange, each subscription's queue, DLQ and binding) is declared by
producers and consumers alike, so a message is never unroutable whichever side starts first.
Trace context travels in message headers (aio-pika instrumentation).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from opentelemetry.instrumentation.utils import suppress_instrumentation

from model.messaging import DEAD_LETTER_EXCHANGE_TYPE, DEAD_LETTER_QUEUE_ARGUMENTS, dead_letter_routing_key, queue_arguments
from model.schema import Event, Subscription

from . import metrics
from .identity import Identity

log = logging.getLogger("netshop.bus")

Handler = Callable[[Event, Subscription, dict[str, Any], AbstractIncomingMessage], Awaitable[str]]


class Bus:
    """This service's connection to the broker its events live on."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.me = identity.name
        self.produces = identity.model.events_produced_by(self.me)
        self.consumes = identity.model.subscriptions_of(self.me)
        broker = identity.datastore("rabbitmq")
        if broker is None:
            raise RuntimeError(f"{self.me} neither produces nor consumes events in the model")
        self.url = identity.datastore_url(broker)
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractRobustChannel | None = None
        self.exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}
        self._depth_task: asyncio.Task | None = None
        self._consumer_tags: list[tuple[aio_pika.abc.AbstractQueue, str]] = []

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.is_closed and self.channel is not None and not self.channel.is_closed

    async def connect(self) -> None:
        self.connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": self.identity.instance}, reconnect_interval=1.0, timeout=5
        )
        self.channel = await self.connection.channel(publisher_confirms=True)
        await self.channel.set_qos(prefetch_count=32)
        for event in {e.name: e for e in self.produces + [e for e, _ in self.consumes]}.values():
            await self._declare(event)

    async def _declare(self, event: Event) -> None:
        assert self.channel is not None
        xdef = self.identity.model.exchange_by_name[event.exchange]
        exchange = await self.channel.declare_exchange(xdef.name, aio_pika.ExchangeType(xdef.type), durable=True)
        dlx = await self.channel.declare_exchange(
            xdef.dead_letter_exchange, aio_pika.ExchangeType(DEAD_LETTER_EXCHANGE_TYPE), durable=True
        )
        self.exchanges[xdef.name] = exchange
        for sub in event.subscriptions:
            dlq = await self.channel.declare_queue(sub.dead_letter_queue, durable=True, arguments=dict(DEAD_LETTER_QUEUE_ARGUMENTS))
            await dlq.bind(dlx, routing_key=dead_letter_routing_key(sub))
            queue = await self.channel.declare_queue(sub.queue, durable=True, arguments=queue_arguments(xdef, sub))
            await queue.bind(exchange, routing_key=sub.binding_key)

    async def publish(self, event_name: str, payload: dict[str, Any], *, message_id: str, timeout: float = 5.0) -> None:
        """Publish and wait for the broker's confirm; raises if the broker did not take it."""
        event = next((e for e in self.produces if e.name == event_name), None)
        if event is None:
            raise RuntimeError(f"{self.me} is not the producer of {event_name!r} in the model")
        if not self.connected:
            raise ConnectionError("not connected to the broker")
        message = aio_pika.Message(
            body=orjson.dumps(payload), content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id, type=event.name, app_id=self.me,
        )
        await self.exchanges[event.exchange].publish(message, routing_key=event.routing_key, mandatory=True, timeout=timeout)
        metrics.events_published.labels(self.me, event.name).inc()

    async def consume(self, handler: Handler) -> None:
        """Consume every subscription of this service; ack after the handler's effect is committed."""
        assert self.channel is not None
        for event, sub in self.consumes:
            queue = await self.channel.get_queue(sub.queue)
            tag = await queue.consume(self._callback(event, sub, handler))
            self._consumer_tags.append((queue, tag))
        self._depth_task = asyncio.create_task(self._watch_depth())

    def _callback(self, event: Event, sub: Subscription, handler: Handler):
        required = {f.name for f in event.payload}

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                payload = orjson.loads(message.body)
                missing = required - set(payload) if isinstance(payload, dict) else required
                if missing:
                    raise ValueError(f"payload lacks {sorted(missing)}")
            except (orjson.JSONDecodeError, ValueError) as exc:
                log.error("poison message on %s (%s); dead-lettering it", sub.queue, exc)
                metrics.events_consumed.labels(self.me, sub.queue, "dead_lettered").inc()
                await message.reject(requeue=False)
                return
            try:
                outcome = await handler(event, sub, payload, message)
            except Exception:
                deliveries = int((message.headers or {}).get("x-delivery-count", 0) or 0) + 1
                final = deliveries >= sub.max_deliveries
                log.exception("handling %s from %s failed (delivery %d of %d); %s", event.name, sub.queue, deliveries,
                              sub.max_deliveries, "dead-lettering it" if final else "it will be redelivered")
                metrics.events_consumed.labels(self.me, sub.queue, "dead_lettered" if final else "retried").inc()
                await message.nack(requeue=True)
                return
            await message.ack()
            metrics.events_consumed.labels(self.me, sub.queue, outcome).inc()

        return on_message

    async def _watch_depth(self) -> None:
        while True:
            try:
                if self.connected:
                    assert self.channel is not None
                    with suppress_instrumentation():
                        for _, sub in self.consumes:
                            for name in (sub.queue, sub.dead_letter_queue):
                                q = await self.channel.declare_queue(name, passive=True)
                                metrics.queue_depth.labels(name).set(q.declaration_result.message_count or 0)
            except Exception as exc:  # the broker may be restarting; the gauge just pauses
                log.debug("queue depth unavailable: %s", exc)
            await asyncio.sleep(5)

    async def close(self) -> None:
        if self._depth_task:
            self._depth_task.cancel()
        for queue, tag in self._consumer_tags:
            try:
                await queue.cancel(tag)
            except Exception:
                pass
        if self.connection is not None:
            await self.connection.close()
