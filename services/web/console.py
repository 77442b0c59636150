"""The cluster console: the model's service graph coloured by zone and health, live traffic, and the
control deck (send a trace, place an order, a bounded load burst, scale)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request

from model.schema import NetShopModel
from .graph import Graph, layout
from .runtime import BFF, bff, bff_json, fragment, gather, json_response, optional, render, runtime, same_origin, wants_fragment, wants_json

router = APIRouter()
Posted = Depends(same_origin)
BURST_CHUNK = 200  # the BFF's bound for one burst call
BURST_SIZES = (50, 100, 200, 500, 1000)
DB_SYSTEMS = {"postgresql": "postgres", "redis": "redis", "rabbitmq": "rabbitmq"}  # OpenTelemetry system -> datastore kind


@cache
def graph() -> Graph:
    return layout(runtime.identity.model)


def zone_index(model: NetShopModel) -> dict[str, int]:
    return {z.name: i for i, z in enumerate(model.platform.zones)}


def trace_paths(model: NetShopModel) -> list[str]:
    """Public, anonymous GET routes without placeholders: paths a console user can trace as they are."""
    return sorted({r.path for s in model.services for r in s.routes
                   if r.public and not r.auth and r.method == "GET" and "{" not in r.path})


def live_nodes(model: NetShopModel, state: dict | None, metrics: dict | None) -> dict[str, dict[str, Any]]:
    """Per graph node: health, pods (zone, ready) and traffic, merged from the platform state and the metrics."""
    zones = zone_index(model)
    nodes: dict[str, dict[str, Any]] = {}
    services = {s["name"]: s for s in (state or {}).get("services", [])}
    traffic = (metrics or {}).get("services", {})
    store_checks: dict[str, list[bool]] = {}
    for svc in model.services:
        live = services.get(svc.name)
        pods = [{"zone": p.get("zone"), "zone_index": zones.get(p.get("zone"), -1), "ready": bool(p.get("ready"))}
                for p in (live or {}).get("pods", [])]
        ready = sum(p["ready"] for p in pods)
        health = "unknown" if live is None else "up" if pods and ready == len(pods) else "degraded" if ready else "down"
        t = traffic.get(svc.name, {})
        nodes[svc.name] = {"health": health, "pods": pods, "ready": ready, "rps": t.get("rps"), "p95_ms": t.get("p95_ms"),
                           "error_rate": t.get("error_rate"), "autoscaler": (live or {}).get("autoscaler"),
                           "replicas": (live or {}).get("replicas")}
        for kind, verdict in ((live or {}).get("health", {}).get("checks") or {}).items():
            store_checks.setdefault(kind, []).append(verdict == "ok")
    for ds in model.datastores:
        checks = store_checks.get(ds.kind)
        health = "unknown" if not checks else "up" if all(checks) else "degraded" if any(checks) else "down"
        nodes[ds.name] = {"health": health, "pods": [], "ready": None, "rps": None, "p95_ms": None, "error_rate": None,
                          "clients": model.clients_of(ds.name)}
    return nodes


def zone_traffic(model: NetShopModel, state: dict | None, metrics: dict | None) -> list[dict[str, Any]]:
    rps = (metrics or {}).get("zones", {})
    pods = (state or {}).get("zones") or {}
    if not pods and state:
        for svc in state.get("services", []):
            for p in svc.get("pods", []):
                z = pods.setdefault(p.get("zone"), {"pods": 0, "ready": 0})
                z["pods"] += 1
                z["ready"] += int(bool(p.get("ready")))
    peak = max([v for v in rps.values() if v] or [1])
    return [{"name": z.name, "title": z.title, "index": i, "rps": rps.get(z.name, 0.0), "share": (rps.get(z.name, 0.0) or 0) / peak,
             "pods": pods.get(z.name, {}).get("pods", 0), "ready": pods.get(z.name, {}).get("ready", 0)}
            for i, z in enumerate(model.platform.zones)]


def live_payload(state: dict | None, metrics: dict | None) -> dict[str, Any]:
    model = runtime.identity.model
    return {"source": (state or metrics or {}).get("source"), "nodes": live_nodes(model, state, metrics),
            "zones": zone_traffic(model, state, metrics),
            "totals": {k: (metrics or {}).get(k) for k in ("rps", "p95_ms", "orders", "edge_rps")}}


async def _live(request: Request) -> tuple[dict | None, dict | None]:
    return await gather(optional(bff_json("GET", "/bff/platform", request)), optional(bff_json("GET", "/bff/metrics", request)))


@router.get("/live/state", summary="Live platform state and traffic for page scripts")
async def live_state(request: Request):
    return json_response(live_payload(*await _live(request)))


def _console(request: Request, state: dict | None, metrics: dict | None, result: dict | None = None, status: int = 200):
    model = runtime.identity.model
    return render(request, "console.html", {
        "title": "Cluster console", "graph": graph(), "model": model, "live": live_payload(state, metrics),
        "state_error": state is None, "trace_paths": trace_paths(model), "burst_sizes": BURST_SIZES, "result": result,
        "scalable": (state or {}).get("source") == "kubernetes-api",
    }, status=status)


@router.get("/console", summary="Cluster console with the live service graph")
async def console(request: Request):
    return _console(request, *await _live(request))


async def _respond(request: Request, kind: str, result: dict, status: int = 200):
    """A control-deck result: JSON or the result fragment for scripts, the whole console for a plain form post."""
    if wants_json(request):
        return json_response(result, status)
    if wants_fragment(request):
        return fragment(request, "_console_result.html", {"result": {"kind": kind, **result}, "graph": graph()}, status)
    return _console(request, *await _live(request), result={"kind": kind, **result}, status=status)


def hops(spans: list[dict], model: NetShopModel) -> list[dict[str, Any]]:
    """The trace's path as hops between graph nodes, in time order: a server span whose parent belongs to another
    service is a call; a client span tagged with a database or messaging system is a datastore access."""
    by_id = {s["span_id"]: s for s in spans}
    stores = {d.kind: d.name for d in model.datastores}
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for s in sorted(spans, key=lambda x: (x.get("start_us") or 0, x["span_id"])):
        parent = by_id.get(s.get("parent_id") or "")
        if s.get("kind") == "server" and parent and parent.get("service") != s.get("service"):
            pair = (parent["service"], s["service"])
        elif s.get("db_system") in DB_SYSTEMS and DB_SYSTEMS[s["db_system"]] in stores:
            pair = (s["service"], stores[DB_SYSTEMS[s["db_system"]]])
        else:
            continue
        if pair not in seen:
            seen.add(pair)
            out.append({"from": pair[0], "to": pair[1], "start_us": s.get("start_us")})
    return out


def waterfall(spans: list[dict]) -> dict[str, Any]:
    """Spans as bars on one time axis, indented by depth; the ASGI send/receive sub-spans are left out as noise."""
    spans = [s for s in spans if not (s.get("kind") == "internal" and (s.get("name") or "").endswith((" http send", " http receive")))]
    if not spans:
        return {"rows": [], "total_ms": 0}
    t0 = min(s["start_us"] for s in spans)
    t1 = max(s["start_us"] + (s["duration_us"] or 0) for s in spans)
    total = max(t1 - t0, 1)
    depth: dict[str, int] = {}
    by_id = {s["span_id"]: s for s in spans}
    for s in sorted(spans, key=lambda x: x["start_us"]):
        parent = s.get("parent_id")
        depth[s["span_id"]] = depth.get(parent, -1) + 1 if parent in by_id else 0
    rows = [{**s, "depth": min(depth[s["span_id"]], 12), "offset_pct": round((s["start_us"] - t0) / total * 100, 2),
             "width_pct": round(max((s["duration_us"] or 0) / total * 100, 0.4), 2), "ms": round((s["duration_us"] or 0) / 1000, 2)}
            for s in sorted(spans, key=lambda x: (x["start_us"], x["span_id"]))]
    return {"rows": rows, "total_ms": round(total / 1000, 1)}


@router.post("/console/trace", dependencies=[Posted], summary="Send one traced request; its path and span waterfall")
async def send_trace(request: Request, path: Annotated[str, Form(max_length=200)] = "/products?limit=4"):
    resp = await bff("POST", "/bff/trace", request, json={"path": path})
    if resp.status == 422:
        return await _respond(request, "trace", {"error": "Trace a path of the public API, such as /products?limit=4."}, 422)
    trace = resp.expect(200)
    model = runtime.identity.model
    # web's own call to the BFF is still open while the spans are collected, so that first hop is stated here
    path_hops = [{"from": runtime.name, "to": BFF, "start_us": None}]
    path_hops += [h for h in hops(trace.get("spans", []), model) if (h["from"], h["to"]) != (runtime.name, BFF)]
    result = {"trace_id": trace["trace_id"], "status": trace["status"], "path": trace["path"], "hops": path_hops,
              "services": trace.get("services", []), "waterfall": waterfall(trace.get("spans", [])),
              "span_count": len(trace.get("spans", []))}
    return await _respond(request, "trace", result)


@router.post("/console/order", dependencies=[Posted], summary="Place a real order as the demo shopper")
async def place_demo_order(request: Request):
    resp = await bff("POST", "/bff/console/order", request, json={"lines": 2})
    if resp.status != 201:
        problem = resp.json() or {}
        return await _respond(request, "order", {"error": problem.get("detail", "The order was not placed.")}, resp.status)
    placed = resp.json()
    view = await optional(bff_json("GET", f"/bff/console/order/{placed['order_id']}", request))
    return await _respond(request, "order", {"order": placed, "view": view})


@router.get("/console/order/{order_id}", summary="The demo order's saga steps and workers' effects (polled)")
async def demo_order_progress(request: Request, order_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]):
    view = await bff_json("GET", f"/bff/console/order/{order_id}", request)
    return fragment(request, "_order_progress.html", {"view": view, "poll": f"/console/order/{order_id}"})


@router.post("/console/burst", dependencies=[Posted], summary="A bounded load burst through the gateway")
async def load_burst(request: Request, count: Annotated[int, Form(ge=1, le=max(BURST_SIZES))] = 100,
                     path: Annotated[str, Form(max_length=200)] = "/products?limit=8"):
    """Scripts send one chunk per call and draw the progress; a plain form post runs every chunk here."""
    totals: dict[str, Any] = {"count": 0, "ok": 0, "failed": 0, "statuses": {}, "elapsed_ms": 0.0, "p95_ms": None, "chunks": 0}
    remaining = count
    while remaining > 0:
        chunk = min(remaining, BURST_CHUNK)
        resp = await bff("POST", "/bff/console/burst", request, json={"count": chunk, "concurrency": 8, "path": path})
        if resp.status == 422:
            return await _respond(request, "burst", {"error": "Burst a path of the public API, such as /products?limit=8."}, 422)
        r = resp.expect(200)
        totals["count"] += r["count"]
        totals["ok"] += r["ok"]
        totals["failed"] += r["failed"]
        totals["elapsed_ms"] = round(totals["elapsed_ms"] + r["elapsed_ms"], 1)
        totals["p95_ms"] = max(filter(None, (totals["p95_ms"], r["p95_ms"])), default=None)
        totals["chunks"] += 1
        for s, n in r["statuses"].items():
            totals["statuses"][s] = totals["statuses"].get(s, 0) + n
        remaining -= chunk
    totals["rps"] = round(totals["count"] / (totals["elapsed_ms"] / 1000), 1) if totals["elapsed_ms"] else None
    totals["path"] = path
    return await _respond(request, "burst", totals)


@router.post("/console/scale", dependencies=[Posted], summary="Set a service's autoscaler bounds (in a cluster)")
async def scale(request: Request, service: Annotated[str, Form(pattern=r"^[a-z0-9-]{1,63}$")],
                minimum: Annotated[int, Form(alias="min", ge=1, le=50)], maximum: Annotated[int, Form(alias="max", ge=1, le=50)]):
    resp = await bff("PUT", f"/bff/scale/{service}", request, json={"min": minimum, "max": maximum})
    if resp.status in (404, 409, 422, 503):
        return await _respond(request, "scale", {"error": (resp.json() or {}).get("detail", "Scaling failed.")}, resp.status)
    return await _respond(request, "scale", resp.expect(200))

