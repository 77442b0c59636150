"""RED metrics in Prometheus form, per route and per peer, labelled with service and zone."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from model import load_model

# The model's buckets (a standard ladder plus every SLO threshold): the SLO rules and dashboards
# generated from the same model query exactly these boundaries.
BUCKETS = tuple(ms / 1000 for ms in load_model().latency_buckets_ms())

http_requests = Counter(
    "http_server_requests", "HTTP requests served", ["service", "route", "method", "status", "zone"]
)
http_duration = Histogram(
    "http_server_request_duration_seconds", "HTTP request duration", ["service", "route", "method", "zone"], buckets=BUCKETS
)
client_requests = Counter("http_client_requests", "Calls made to peers", ["service", "peer", "status"])
client_duration = Histogram(
    "http_client_request_duration_seconds", "Duration of calls to peers", ["service", "peer"], buckets=BUCKETS
)
queue_depth = Gauge("netshop_queue_depth", "Messages ready in a queue", ["queue"])
# outcome: processed | duplicate | retried | dead_lettered (the SLO's failure outcome)
events_consumed = Counter("netshop_events_consumed", "Events consumed", ["service", "queue", "outcome"])
events_published = Counter("netshop_events_published", "Events published", ["service", "event"])
outbox_pending = Gauge("netshop_outbox_pending", "Outbox rows not yet published", ["service"])
breaker_state = Gauge("netshop_circuit_open", "1 while the circuit to a peer is open", ["service", "peer"])


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
