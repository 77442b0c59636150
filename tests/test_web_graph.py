"""The console's graph and trace views are pure functions of the model and of span data (no platform needed)."""

from __future__ import annotations

import itertools

from services.frontend.cluster import summarise_prometheus
from services.web.console import hops, waterfall
from services.web.graph import NODE_H, NODE_W, layout
from conftest import build, with_new_service


def _crossings(g) -> int:
    pos = {n.name: (n.cx, n.y) for n in g.nodes}
    segs = [(pos[lk.source], pos[lk.target]) for lk in g.links if pos[lk.source][1] != pos[lk.target][1]]
    count = 0
    for (a1, a2), (b1, b2) in itertools.combinations(segs, 2):
        if {a1[1], a2[1]} == {b1[1], b2[1]} and len({a1, a2, b1, b2}) == 4:
            ta, ba = sorted((a1, a2), key=lambda p: p[1])
            tb, bb = sorted((b1, b2), key=lambda p: p[1])
            count += (ta[0] - tb[0]) * (ba[0] - bb[0]) < 0
    return count


def test_graph_draws_every_workload_once_in_its_tier_row(netshop):
    g = layout(netshop)
    assert sorted(n.name for n in g.nodes) == sorted(netshop.workload_names)
    assert (g.services, g.datastores) == (len(netshop.services), len(netshop.datastores))
    tier_y = {r.tier: r.y for r in g.rows}
    assert [r.tier for r in g.rows] == [t.name for t in netshop.platform.tiers if any(n.tier == t.name for n in g.nodes)]
    assert list(tier_y.values()) == sorted(tier_y.values())
    for n in g.nodes:
        assert n.y == tier_y[n.tier] and 0 <= n.x and n.x + NODE_W <= g.width and n.y + NODE_H <= g.height
    for a, b in itertools.combinations(g.nodes, 2):
        assert a.y != b.y or abs(a.x - b.x) >= NODE_W, f"{a.name} overlaps {b.name}"


def test_graph_links_are_exactly_the_models_edges(netshop):
    g = layout(netshop)
    assert sorted((lk.source, lk.target, lk.kind) for lk in g.links) == sorted(
        [(e.caller, e.callee, "sync") for e in netshop.sync_edges] + [(e.service, e.datastore, "data") for e in netshop.all_data_edges])
    assert all(lk.d.startswith("M") for lk in g.links)


def test_graph_layout_is_deterministic_and_orders_rows_to_cut_crossings(netshop):
    assert layout(netshop) == layout(netshop)
    from services.web import graph as graph_module

    untouched = graph_module._order  # the same layout with the barycentre sweeps switched off
    try:
        graph_module._order = lambda rows, neighbours, sweeps=0: untouched(rows, neighbours, sweeps=0)
        baseline = _crossings(layout(netshop))
    finally:
        graph_module._order = untouched
    assert _crossings(layout(netshop)) < baseline


def test_a_service_added_to_the_model_appears_in_the_graph(model_data):
    model = build(with_new_service(model_data))
    g = layout(model)
    assert "wishlist" in {n.name for n in g.nodes}
    assert {("api-gateway", "wishlist"), ("wishlist", "products"), ("wishlist", "redis")} <= {(lk.source, lk.target) for lk in g.links}


SPANS = [  # the shape the gateway's /traces/{id} returns (services.api_gateway.app.simplify)
    {"span_id": "a", "parent_id": "w", "service": "frontend", "kind": "server", "name": "POST /bff/trace", "start_us": 100, "duration_us": 900},
    {"span_id": "b", "parent_id": "a", "service": "frontend", "kind": "client", "name": "GET", "start_us": 120, "duration_us": 700},
    {"span_id": "c", "parent_id": "b", "service": "api-gateway", "kind": "server", "name": "GET /api/{path:path}", "start_us": 150, "duration_us": 600},
    {"span_id": "d", "parent_id": "c", "service": "api-gateway", "kind": "client", "name": "INCRBY", "db_system": "redis", "start_us": 160, "duration_us": 20},
    {"span_id": "e", "parent_id": "c", "service": "api-gateway", "kind": "client", "name": "GET", "start_us": 200, "duration_us": 400},
    {"span_id": "f", "parent_id": "e", "service": "products", "kind": "server", "name": "GET /products", "start_us": 220, "duration_us": 300},
    {"span_id": "g", "parent_id": "f", "service": "products", "kind": "client", "name": "SELECT", "db_system": "postgresql", "start_us": 230, "duration_us": 50},
    {"span_id": "h", "parent_id": "f", "service": "products", "kind": "internal", "name": "GET /products http send", "start_us": 500, "duration_us": 1},
]


def test_trace_hops_follow_span_parents_and_datastore_systems(netshop):
    assert [(h["from"], h["to"]) for h in hops(SPANS, netshop)] == [
        ("frontend", "api-gateway"), ("api-gateway", "redis"), ("api-gateway", "products"), ("products", "postgres")]


def test_waterfall_places_spans_on_one_time_axis_without_asgi_noise():
    wf = waterfall(SPANS)
    assert [r["span_id"] for r in wf["rows"]] == ["a", "b", "c", "d", "e", "f", "g"]
    assert wf["rows"][0]["offset_pct"] == 0 and wf["rows"][0]["width_pct"] == 100
    assert [r["depth"] for r in wf["rows"]] == [0, 1, 2, 3, 3, 4, 5]


def test_cluster_metrics_from_prometheus_have_the_local_runners_shape(netshop):
    results = {
        "rps": [{"metric": {"service": "web", "zone": "zone-a"}, "value": [0, "2.5"]},
                {"metric": {"service": "web", "zone": "zone-b"}, "value": [0, "1.5"]},
                {"metric": {"service": "orders", "zone": "zone-c"}, "value": [0, "NaN"]}],
        "errors": [{"metric": {"service": "web"}, "value": [0, "0.4"]}],
        "p95": [{"metric": {"service": "web"}, "value": [0, "0.042"]}],
        "orders": [{"metric": {}, "value": [0, "17"]}],
    }
    m = summarise_prometheus(netshop, results)
    assert m["rps"] == 4.0 and m["orders"] == 17 and m["p95_ms"] == 42.0
    web = m["services"]["web"]
    assert (web["rps"], web["error_rate"], web["zone"], web["zones"]) == (4.0, 0.1, "zone-a", {"zone-a": 2.5, "zone-b": 1.5})
    assert m["zones"]["zone-a"] == 2.5 and m["zones"]["zone-c"] == 0.0
    assert set(m["services"]) == {s.name for s in netshop.services}
