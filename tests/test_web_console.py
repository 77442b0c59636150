"""The cluster console in a real browser: the model's graph, live state, and the control deck."""

from __future__ import annotations

from playwright.sync_api import expect

from web_browser import browser, pages, web  # noqa: F401


def test_console_graph_renders_every_service_and_datastore_of_the_model(pages, platform):
    model = platform.model
    page = pages.new()
    page.goto("/console")
    names = {n.get_attribute("data-node") for n in page.locator("[data-graph] [data-node]").all()}
    assert names == {s.name for s in model.services} | {d.name for d in model.datastores}
    links = {lk.get_attribute("data-link") for lk in page.locator("[data-graph] [data-link]").all()}
    assert links == {f"{e.caller}--{e.callee}" for e in model.sync_edges} | {f"{e.service}--{e.datastore}" for e in model.all_data_edges}
    total = len(model.services) + len(model.datastores)
    assert page.locator("[data-node-count]").inner_text() == f"{total} nodes"
    assert page.get_by_text("Live data from the local runner").is_visible()
    # health and zone colour arrive from the live state: every service is up, its pod dot in its zone
    expect(page.locator("[data-graph] .node-service.health-up")).to_have_count(len(model.services))
    zones = {z.name: i for i, z in enumerate(model.platform.zones)}
    state = platform.client(model.peers_of(model.platform.ingress.service)[0]).get("/bff/platform").json()
    for svc in state["services"]:
        zone = svc["pods"][0]["zone"]
        assert page.locator(f"[data-node='{svc['name']}'] .pod.zone-{zones[zone]}").count() == 1
        assert page.locator(f"[data-row='{svc['name']}'] [data-zone-replicas='{zone}']").inner_text() == "1/1"


def test_send_trace_lights_the_path_hop_by_hop(pages, platform):
    page = pages.new()
    page.goto("/console")
    page.get_by_role("button", name="Send trace").click()
    page.locator(".trace-result").wait_for()
    seen = []
    for _ in range(60):
        seen.append(page.locator("[data-graph] .node.lit").count())
        if page.locator("[data-graph][data-trace='done']").count():
            break
        page.wait_for_timeout(100)
    assert seen[-1] > seen[0] and len(set(seen)) > 2, f"the path should light up step by step, saw {seen}"
    lit = {n.get_attribute("data-node") for n in page.locator("[data-graph] .node.lit").all()}
    model = platform.model
    web_name = model.platform.ingress.service
    bff = model.peers_of(web_name)[0]
    gateway = model.peers_of(bff)[0]
    assert {web_name, bff, gateway, "products"} <= lit
    lit_links = {lk.get_attribute("data-link") for lk in page.locator("[data-graph] .link.lit").all()}
    assert {f"{web_name}--{bff}", f"{bff}--{gateway}", f"{gateway}--products"} <= lit_links
    declared = {f"{e.caller}--{e.callee}" for e in model.sync_edges} | {f"{e.service}--{e.datastore}" for e in model.all_data_edges}
    assert lit_links <= declared
    rows = page.locator(".waterfall .wf-row")
    assert rows.count() >= 4
    assert {"frontend", "api-gateway", "products"} <= {r.locator("strong").inner_text() for r in rows.all()}


def test_place_order_and_a_bounded_load_burst_with_progress(pages, platform):
    page = pages.new()
    page.goto("/console")
    page.get_by_role("button", name="Place order").click()
    page.locator(".order-result [data-progress][data-complete='true']").wait_for(timeout=25_000)
    assert page.locator(".order-result .timeline-step.step-ok").count() == 5
    page.get_by_label("Requests").select_option("200")
    page.get_by_role("button", name="Load burst").click()
    progress = page.locator("[data-burst-progress]")
    partial = None
    for _ in range(400):  # the bar moves chunk by chunk before the burst ends
        value, maximum = progress.evaluate("p => [p.value, p.max]")
        if 0 < value < maximum:
            partial = value
            break
        page.wait_for_timeout(25)
    assert partial is not None, "the progress bar never showed partial progress"
    page.locator("[data-burst-result]").wait_for(timeout=60_000)
    assert progress.get_attribute("max") == "200" and progress.evaluate("p => p.value") == 200
    assert "200 requests — 200 ok, 0 failed" in page.locator("[data-burst-result]").inner_text()


def test_scale_is_read_only_on_the_local_runner(pages, platform):
    bff = platform.client(platform.model.peers_of(platform.model.platform.ingress.service)[0])
    resp = bff.put("/bff/scale/orders", json={"min": 2, "max": 4})
    assert resp.status_code == 409 and resp.json()["source"] == "local-runner"
    assert bff.put("/bff/scale/orders", json={"min": 5, "max": 4}).status_code == 422
    assert bff.put("/bff/scale/no-such-service", json={"min": 1, "max": 2}).status_code == 404
    page = pages.new()
    page.goto("/console")
    assert page.get_by_role("button", name="Scale orders").count() == 0
    assert "replicas per zone are shown read-only" in page.get_by_role("region", name="Services: traffic, health and scale").inner_text()
