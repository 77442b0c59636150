"""OpenTelemetry tracing: FastAPI, aiohttp client, asyncpg, aio-pika and Redis, exported over OTLP/HTTP.

W3C trace context crosses HTTP hops (aiohttp/FastAPI instrumentation) and RabbitMQ (aio-pika
instrumentation puts `traceparent` in message headers), so a checkout is one trace into the workers.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_done = False


def setup(service: str, zone: str, instance: str, datastores: frozenset[str] | set[str] = frozenset()) -> None:
    """Install the tracer provider and the client-side instrumentations once per process: HTTP always,
    and a datastore client's only when the model gives the service a data edge to that kind (each
    instrumentation imports its client library, ~2-7 MiB a process that would never use it)."""
    global _done
    if _done:
        return
    _done = True
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.instance.id": instance, "netshop.zone": zone})
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=200))
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().instrument()
    if "postgres" in datastores:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().instrument()
    if "rabbitmq" in datastores:
        from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

        AioPikaInstrumentor().instrument()
    if "redis" in datastores:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()


def shutdown() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_millis=2000)
        provider.shutdown()


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
