"""Structured JSON logs on stdout, each line carrying service, zone, trace and request ids."""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from . import context


class _Enrich(logging.Filter):
    def __init__(self, service: str, zone: str) -> None:
        super().__init__()
        self.service, self.zone = service, zone

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.zone = self.zone
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        record.request_id = context.request_id.get()
        return True


def setup(service: str, zone: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(zone)s %(trace_id)s %(span_id)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_Enrich(service, zone))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "aiormq", "aio_pika", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
