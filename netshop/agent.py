"""The local control agent: on a laptop, the stand-in for the Kubernetes API and the metrics pipeline.

It knows what the runner started (from the model and the run's state file), probes every service's
`/healthz` and `/readyz`, scrapes `/metrics` every two seconds, and serves the platform state and a
live summary (request rate, p95 latency, errors, orders; per service and per zone) to the BFF.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from model import load_model
from services.common.identity import local_placement

SCRAPE_SECONDS = 2.0
WINDOW_SECONDS = 30.0

STATE_FILE = Path(os.environ.get("NETSHOP_RUN_STATE", ".netshop/run/state.json"))
model = load_model(os.environ.get("NETSHOP_MODEL"))
offset = int(os.environ.get("NETSHOP_PORT_OFFSET", "0"))
placement = local_placement(model)
health: dict[str, dict[str, Any]] = {}
samples: dict[str, deque] = {s.name: deque() for s in model.services}


def parse(text: str) -> dict[str, Any]:
    """Counters and histogram buckets of the RED metrics, summed over label sets that matter here."""
    requests: dict[tuple[str, str], float] = {}
    buckets: dict[float, float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name == "http_server_requests":
            for s in fam.samples:
                if s.name.endswith("_total"):
                    key = (s.labels.get("route", ""), s.labels.get("status", ""))
                    requests[key] = requests.get(key, 0.0) + s.value
        elif fam.name == "http_server_request_duration_seconds":
            for s in fam.samples:
                if s.name.endswith("_bucket"):
                    le = float(s.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + s.value
    return {"requests": requests, "buckets": buckets}


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus-style histogram_quantile over cumulative bucket counts."""
    items = sorted(buckets.items())
    if not items or items[-1][1] <= 0:
        return None
    rank = q * items[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in items:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_count) / max(count - prev_count, 1e-9))
        prev_le, prev_count = le, count
    return prev_le


def window(name: str) -> dict[str, Any]:
    """Rates and p95 over the sliding window for one service."""
    ss = samples[name]
    if len(ss) < 2:
        return {"rps": 0.0, "error_rate": 0.0, "p95_ms": None, "requests": 0}
    (t0, a), (t1, b) = ss[0], ss[-1]
    if sum(b["requests"].values()) < sum(a["requests"].values()):  # the process restarted: counters began again
        a = {"requests": {}, "buckets": {}}
    dt = max(t1 - t0, 1e-6)
    total = sum(b["requests"].values()) - sum(a["requests"].values())
    errors = sum(v for (route, st), v in b["requests"].items() if st.startswith("5")) - sum(
        v for (route, st), v in a["requests"].items() if st.startswith("5"))
    delta = {le: b["buckets"].get(le, 0.0) - a["buckets"].get(le, 0.0) for le in b["buckets"]}
    p95 = quantile(0.95, delta)
    return {"rps": round(total / dt, 2), "error_rate": round(errors / total, 4) if total else 0.0,
            "p95_ms": round(p95 * 1000, 1) if p95 is not None else None, "requests": int(sum(b["requests"].values()))}


async def probe(session: aiohttp.ClientSession, name: str, port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    entry: dict[str, Any] = {"live": False, "ready": False, "checked_at": time.time()}
    try:
        async with session.get(base + "/healthz") as r:
            entry["live"] = r.status == 200
            if r.status == 200:
                body = await r.json()
                entry["instance"], entry["uptime_seconds"] = body.get("instance"), body.get("uptime_seconds")
        async with session.get(base + "/readyz") as r:
            entry["ready"] = r.status == 200
            entry["checks"] = (await r.json()).get("checks")
        async with session.get(base + "/metrics") as r:
            text = await r.text()
        now = time.monotonic()
        ss = samples[name]
        ss.append((now, parse(text)))
        while ss and now - ss[0][0] > WINDOW_SECONDS:
            ss.popleft()
    except Exception as exc:
        entry["error"] = str(exc) or type(exc).__name__
    health[name] = entry


async def scrape_forever() -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.5)) as session:
        while True:
            await asyncio.gather(*(probe(session, s.name, s.port + offset) for s in model.services))
            await asyncio.sleep(SCRAPE_SECONDS)


@asynccontextmanager
async def lifespan(app: FastAPI):
    task = asyncio.create_task(scrape_forever())
    yield
    task.cancel()


app = FastAPI(title="NetShop local control agent", lifespan=lifespan)


def _run_state() -> dict[str, Any]:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


@app.get("/state")
async def state() -> dict:
    run = _run_state()
    services = []
    for s in model.services:
        h = health.get(s.name, {})
        zone = placement[s.name]
        services.append({
            "name": s.name, "tier": s.tier, "port": s.port + offset, "model_port": s.port,
            "replicas": {"desired": 1, "ready": int(bool(h.get("ready")))},
            "autoscaler": {"min": s.scaling.min, "max": s.scaling.max, "note": "locally one process per service"},
            "pods": [{"name": h.get("instance") or f"{s.name}-{zone}", "zone": zone,
                      "phase": "Running" if h.get("live") else "Unknown", "ready": bool(h.get("ready"))}],
            "health": h,
        })
    zones: dict[str, dict[str, int]] = {z.name: {"pods": 0, "ready": 0} for z in model.platform.zones}
    for svc in services:
        for p in svc["pods"]:
            zones[p["zone"]]["pods"] += 1
            zones[p["zone"]]["ready"] += int(p["ready"])
    return {"services": services, "zones": zones, "started_at": run.get("started_at"), "runner": run.get("runner", "honcho")}


@app.get("/metrics/summary")
async def summary() -> dict:
    per_service = {s.name: window(s.name) | {"zone": placement[s.name], "tier": s.tier} for s in model.services}
    per_zone: dict[str, float] = {z.name: 0.0 for z in model.platform.zones}
    for name, w in per_service.items():
        per_zone[placement[name]] += w["rps"]
    edge = [s.name for s in model.services if s.tier == "edge"]
    entry = model.platform.ingress.service
    orders = 0
    producer = next((e.producer for e in model.events), None)
    if producer and samples.get(producer):
        orders = int(sum(v for (route, st), v in samples[producer][-1][1]["requests"].items() if st == "201" and "checkout" in route))
    return {
        "window_seconds": WINDOW_SECONDS,
        "rps": round(sum(w["rps"] for w in per_service.values()), 2),
        "edge_rps": round(sum(per_service[n]["rps"] for n in edge), 2),
        "p95_ms": per_service.get(entry, {}).get("p95_ms"),
        "orders": orders,
        "services": per_service,
        "zones": {z: round(v, 2) for z, v in per_zone.items()},
    }


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok", "services": len(health)}
