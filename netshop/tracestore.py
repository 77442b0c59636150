"""The local trace backend: receives OTLP/HTTP spans and answers a Jaeger-compatible query API.

In a cluster the services export to the OpenTelemetry Collector and the gateway queries Jaeger; on a
laptop this process plays both parts (like Jaeger all-in-one with in-memory storage), so the gateway's
trace endpoints and the console's waterfall work the same way in both places.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf.json_format import Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

MAX_TRACES = 5000
# Footprint (bench/load.py): a span costs ~3 KiB here (38k spans: 189 MiB RSS) and a checkout trace has ~50,
# so 5000 checkout traces would hold ~750 MiB; 10k spans keep the last ~200 checkouts. Oldest traces go first.
MAX_SPANS = 10_000
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

app = FastAPI(title="NetShop local trace backend")
traces: OrderedDict[str, dict[str, Any]] = OrderedDict()
held = {"spans": 0}


def _value(v) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in ("string_value", "bool_value", "int_value", "double_value") else str(v)


def ingest(request: ExportTraceServiceRequest) -> int:
    count = 0
    for rs in request.resource_spans:
        res = {a.key: _value(a.value) for a in rs.resource.attributes}
        process = {"serviceName": res.get("service.name", "unknown"),
                   "tags": [{"key": k, "type": "string", "value": str(v)} for k, v in sorted(res.items())]}
        for ss in rs.scope_spans:
            for s in ss.spans:
                tid = s.trace_id.hex()
                entry = traces.get(tid)
                if entry is None:
                    entry = traces[tid] = {"traceID": tid, "spans": [], "processes": {}}
                else:
                    traces.move_to_end(tid)
                pid = next((k for k, p in entry["processes"].items() if p == process), None)
                if pid is None:
                    pid = f"p{len(entry['processes']) + 1}"
                    entry["processes"][pid] = process
                tags = [{"key": a.key, "type": "string", "value": _value(a.value)} for a in s.attributes]
                tags.append({"key": "span.kind", "type": "string", "value": KINDS.get(s.kind, "unspecified")})
                if s.status.code == 2:
                    tags.append({"key": "error", "type": "bool", "value": True})
                entry["spans"].append({
                    "traceID": tid, "spanID": s.span_id.hex(), "operationName": s.name,
                    "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": s.parent_span_id.hex()}] if s.parent_span_id else [],
                    "startTime": s.start_time_unix_nano // 1000, "duration": max(0, (s.end_time_unix_nano - s.start_time_unix_nano) // 1000),
                    "tags": tags, "processID": pid,
                })
                count += 1
    held["spans"] += count
    while len(traces) > MAX_TRACES or (held["spans"] > MAX_SPANS and len(traces) > 1):
        _, oldest = traces.popitem(last=False)
        held["spans"] -= len(oldest["spans"])
    return count


@app.post("/v1/traces")
async def receive(request: Request) -> Response:
    body = await request.body()
    req = ExportTraceServiceRequest()
    if request.headers.get("content-type", "").startswith("application/json"):
        Parse(body, req)
    else:
        req.ParseFromString(body)
    ingest(req)
    return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


def _services(trace: dict) -> set[str]:
    return {p["serviceName"] for p in trace["processes"].values()}


@app.get("/api/services")
async def services() -> dict:
    names: set[str] = set()
    for t in traces.values():
        names |= _services(t)
    return {"data": sorted(names)}


@app.get("/api/traces/{trace_id}")
async def get_trace(trace_id: str) -> Response:
    t = traces.get(trace_id)
    if t is None:
        return JSONResponse({"data": [], "errors": [{"code": 404, "msg": "trace not found"}]}, status_code=404)
    return JSONResponse({"data": [t]})


@app.get("/api/traces")
async def find(service: str | None = None, limit: int = 20) -> dict:
    found = [t for t in reversed(traces.values()) if service is None or service in _services(t)]
    return {"data": found[:limit]}


@app.get("/api/dependencies")
async def dependencies() -> dict:
    """Caller -> callee pairs observed in spans: a server span whose parent span belongs to another service."""
    calls: dict[tuple[str, str, str], int] = defaultdict(int)
    for t in traces.values():
        by_id = {s["spanID"]: s for s in t["spans"]}
        for s in t["spans"]:
            kind = next((x["value"] for x in s["tags"] if x["key"] == "span.kind"), "")
            if kind not in ("server", "consumer") or not s["references"]:
                continue
            parent = by_id.get(s["references"][0]["spanID"])
            if parent is None:
                continue
            a, b = t["processes"][parent["processID"]]["serviceName"], t["processes"][s["processID"]]["serviceName"]
            if a != b:
                calls[(a, b, "sync" if kind == "server" else "async")] += 1
    return {"data": [{"parent": a, "child": b, "kind": k, "callCount": n} for (a, b, k), n in sorted(calls.items())]}


@app.delete("/api/traces")
async def clear() -> dict:
    traces.clear()
    return {"cleared": True}


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok", "traces": len(traces)}
