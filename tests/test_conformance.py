"""Conformance: the calls and connections the running platform actually makes equal the model's edges.

The test drives every flow of the model through the real platform, then reads what happened from two
independent sources (the spans in the trace backend and each caller's client metrics) and from the
datastores themselves (who is connected). No undeclared call, no declared edge left unexercised."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid

import asyncpg
import httpx
import pytest
import redis

pytestmark = pytest.mark.platform


def exercise_every_flow(shop) -> None:
    """Drive the storefront the way a shopper does: pages, search, basket, checkout, review."""
    web = shop.client(shop.model.platform.ingress.service)
    user = shop.user("conformance")  # register: gateway -> auth -> users
    products = shop.gateway.get("/api/products", params={"limit": 3}).json()["items"]
    pid = products[0]["id"]
    for path in ("/", f"/products/{pid}", "/search?q=lamp"):
        assert web.get(path).status_code == 200
    bff = shop.client("frontend")
    assert bff.get("/bff/home").status_code == 200
    assert bff.get(f"/bff/products/{pid}").status_code == 200
    shop.gateway.get("/api/search", params={"q": "notebook"})
    shop.gateway.get(f"/api/recommendations/{pid}")
    shop.gateway.post("/api/cart/items", headers=user["headers"], json={"product_id": pid, "quantity": 1})
    order = shop.gateway.post("/api/orders/checkout", headers={**user["headers"], "Idempotency-Key": uuid.uuid4().hex},
                              json={"card_number": "4242424242424242"})
    assert order.status_code == 201, order.text
    shop.gateway.post(f"/api/reviews/{pid}", headers=user["headers"], json={"rating": 4, "title": "Conformance"})
    shop.gateway.get("/api/users/me", headers=user["headers"])


def declared_sync(model) -> set[tuple[str, str]]:
    return {(e.caller, e.callee) for e in model.sync_edges}


def observed_from_spans(shop) -> set[tuple[str, str]]:
    deps = httpx.get(f"{shop.trace_url}/api/dependencies", timeout=10).json()["data"]
    return {(d["parent"], d["child"]) for d in deps if d["kind"] == "sync"}


def observed_from_metrics(shop) -> set[tuple[str, str]]:
    pairs = set()
    pattern = re.compile(r'^http_client_requests_total\{([^}]*)\} ([0-9.e+]+)$')
    for svc in shop.model.services:
        for line in shop.client(svc.name).get("/metrics").text.splitlines():
            m = pattern.match(line)
            if m and float(m.group(2)) > 0:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
                pairs.add((labels["service"], labels["peer"]))
    return pairs


@pytest.fixture(scope="module")
def exercised(platform):
    exercise_every_flow(platform)
    return platform


def test_observed_calls_equal_the_models_sync_edges_from_spans(exercised):
    declared = declared_sync(exercised.model)
    observed = exercised.eventually(lambda: (o := observed_from_spans(exercised)) >= declared and o, timeout=15)
    assert observed - declared == set(), "calls the model does not declare"
    assert declared - observed == set(), "declared edges never exercised"


def test_observed_calls_equal_the_models_sync_edges_from_client_metrics(exercised):
    declared = declared_sync(exercised.model)
    observed = observed_from_metrics(exercised)
    assert observed - declared == set(), "calls the model does not declare"
    assert declared - observed == set(), "declared edges never exercised"


def test_one_checkout_is_one_trace_from_the_edge_into_every_worker(exercised):
    model = exercised.model
    event = model.events[0]
    consumers = {s.consumer for s in event.subscriptions}
    traces = httpx.get(f"{exercised.trace_url}/api/traces", params={"service": event.producer, "limit": 200}, timeout=10).json()["data"]
    services_per_trace = [{p["serviceName"] for p in t["processes"].values()} for t in traces]
    assert any({"api-gateway", event.producer} | consumers <= s for s in services_per_trace)


def connected_services(shop) -> set[tuple[str, str]]:
    """(service, datastore) pairs from the datastores' own view of their clients."""
    model = shop.model
    names = {s.name for s in model.services}
    pairs: set[tuple[str, str]] = set()

    def service_of(client_name: str) -> str | None:
        # instances are named <service>-<zone>-<pid>
        return next((n for n in sorted(names, key=len, reverse=True) if client_name.startswith(n + "-")), None)

    for ds in model.datastores:
        if ds.kind == "postgres":
            async def fetch():
                conn = await asyncpg.connect(host="127.0.0.1", port=ds.port, user="postgres", database="postgres")
                try:
                    return await conn.fetch("SELECT application_name FROM pg_stat_activity WHERE datname = $1", shop.run.database)
                finally:
                    await conn.close()
            clients = [r["application_name"] for r in asyncio.run(fetch())]
        elif ds.kind == "redis":
            info = redis.Redis(host="127.0.0.1", port=ds.port).client_list()
            clients = [c.get("name", "") for c in info]
        else:
            out = subprocess.run(["rabbitmqctl", "-q", "list_connections", "-p", shop.run.vhost, "client_properties"],
                                 capture_output=True, text=True, timeout=60).stdout
            clients = re.findall(r'"connection_name","([^"]+)"', out) or re.findall(r'connection_name,longstr,<<"([^"]+)">>', out)
            clients += re.findall(r'\{<<"connection_name">>,longstr,<<"([^"]+)">>\}', out)
        for c in clients:
            if (svc := service_of(c or "")) is not None:
                pairs.add((svc, ds.name))
    return pairs


def test_services_connect_to_exactly_the_datastores_their_data_edges_name(exercised):
    declared = {(e.service, e.datastore) for e in exercised.model.all_data_edges}
    observed = connected_services(exercised)
    assert observed - declared == set(), "connections the model does not declare"
    assert declared - observed == set(), "declared data edges with no connection"
