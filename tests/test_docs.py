"""The documentation site: it builds strictly and offline, its links resolve, and it follows the model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from conftest import REPO, build, with_new_service
from netshop.pipeline import render

EXTERNAL = ("http:", "https:", "mailto:", "data:", "javascript:", "tel:", "//")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """`mkdocs build --strict` of the repository's site into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    started = time.monotonic()
    proc = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(out)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    print(f"mkdocs build --strict: {time.monotonic() - started:.1f} s")
    return out


class _Page(HTMLParser):
    """The ids, the local references (href/src) and the external resources of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[str] = []
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("id", "name"):
            if key in a and tag != "meta" and tag != "input":
                self.ids.add(a[key])
        for key in ("href", "src"):
            if key in a:
                self.refs.append(a[key])
        # what a browser would fetch when the page loads
        fetched = a.get("src", "") if tag in {"script", "img", "iframe", "source", "audio", "video"} else ""
        if tag == "link":
            fetched = a.get("href", "")
        if fetched.startswith(("http:", "https:", "//")):
            self.remote.append(f"<{tag}> {fetched}")


@pytest.fixture(scope="module")
def pages(site) -> dict[Path, _Page]:
    out = {}
    for html in sorted(site.rglob("*.html")):
        parser = _Page()
        parser.feed(html.read_text(encoding="utf-8"))
        out[html] = parser
    return out


def test_mkdocs_build_strict_passes_with_search(site):
    assert (site / "index.html").is_file()
    index = (site / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "services/orders.html" in index and "Event catalogue" in index


def test_every_internal_link_and_anchor_resolves(site, pages):
    broken, checked, anchors = [], 0, 0
    for html, page in pages.items():
        for ref in page.refs:
            if not ref or ref.startswith(EXTERNAL):
                continue
            parts = urlsplit(ref)
            checked += 1
            anchors += bool(parts.fragment)
            base = site if parts.path.startswith("/") else html.parent  # 404.html links from the site root
            target = html if not parts.path else (base / unquote(parts.path).lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            rel = html.relative_to(site)
            if not target.is_file():
                broken.append(f"{rel}: {ref} (no such file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{rel}: {ref} (no such anchor)")
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(broken[:40])
    assert checked > 1000 and anchors > 100, f"only {checked} links ({anchors} with anchors) checked"


def test_the_site_loads_nothing_from_the_internet(site, pages):
    remote = [f"{html.relative_to(site)}: {r}" for html, page in pages.items() for r in page.remote]
    for css in site.rglob("*.css"):
        remote += [f"{css.relative_to(site)}: {m}" for m in re.findall(r"(?:url\(|@import\s+)['\"]?((?:https?:)?//[^'\")\s]+)",
                                                                       css.read_text(encoding="utf-8"))]
    for html in pages:
        text = html.read_text(encoding="utf-8")
        for host in ("fonts.googleapis.com", "fonts.gstatic.com", "cdn.jsdelivr.net", "unpkg.com"):
            if host in text:
                remote.append(f"{html.relative_to(site)}: mentions {host}")
    assert not remote, "the site must work offline:\n" + "\n".join(remote[:40])


def test_every_service_datastore_flow_and_event_has_its_page(site, netshop):
    for svc in netshop.services:
        text = (site / "services" / f"{svc.name}.html").read_text(encoding="utf-8")
        assert svc.role.split(",")[0] in text and f"context-{svc.name}.svg" in text, svc.name
        assert f"allow-prometheus-to-{svc.name}-ingress" in text, f"{svc.name}: its NetworkPolicies"
    for ds in netshop.datastores:
        assert f"context-{ds.name}.svg" in (site / "datastores" / f"{ds.name}.html").read_text(encoding="utf-8")
    for flow in netshop.flows:
        text = (site / "flows" / f"{flow.name}.html").read_text(encoding="utf-8")
        assert f"sequence-{flow.name}.svg" in text and len(re.findall(r"<tr>", text)) > len(flow.steps), flow.name
    events = (site / "events.html").read_text(encoding="utf-8")
    for event in netshop.events:
        assert f'id="event-{event.name.replace(".", "-")}"' in events
        for sub in event.subscriptions:
            assert sub.queue in events and sub.dead_letter_queue in events
        for field in event.payload:
            assert f"<code>{field.name}</code>" in events
    gallery = (site / "diagrams.html").read_text(encoding="utf-8")
    views = yaml.safe_load((REPO / "generated" / "diagrams" / "views.json").read_text())["views"]
    assert len(views) >= 40
    for v in views:
        assert f'id="{v["key"]}"' in gallery and f'src="diagrams/{v["key"]}.svg"' in gallery, v["key"]
    reference = (site / "model-reference.html").read_text(encoding="utf-8")
    for text in ("Replicas at rest and the autoscaler's floor", "type-service", "type-subscription"):
        assert text in reference


def test_service_pages_carry_the_api_table_of_the_services_openapi(site, netshop):
    """Each implemented service's page lists every operation of its OpenAPI document, and ships the document."""
    import json

    from generators.docs import implemented

    for svc in netshop.services:
        if not implemented(svc.name):
            continue
        doc = json.loads((site / "openapi" / f"{svc.name}.json").read_text(encoding="utf-8"))
        text = (site / "services" / f"{svc.name}.html").read_text(encoding="utf-8")
        assert "Operations (from the OpenAPI document)" in text
        for path, item in doc["paths"].items():
            if path in {"/healthz", "/readyz", "/metrics"} or path.startswith("/_ops"):
                continue
            for method in item:
                assert f"<code>{method.upper()} {path}</code>" in text, f"{svc.name}: {method} {path} missing"
    orders = (site / "services" / "orders.html").read_text(encoding="utf-8")
    assert "<code>idempotency-key</code> (header, string, required)" in orders


def test_the_docs_family_is_deterministic_and_has_no_absolute_paths(netshop):
    first, second = render(netshop, ["docs"]), render(netshop, ["docs"])
    assert first == second
    for path, content in first.items():
        text = content.decode("utf-8")
        assert "DO NOT EDIT" in text.splitlines()[0], path
        assert str(REPO) not in text and "site-packages" not in text, path


def _links(markdown: str) -> list[str]:
    prose = re.sub(r"`[^`\n]*`", "", markdown)  # code spans hold patterns, not links
    return [m for m in re.findall(r"\]\(([^)\s]+)\)", prose) if not m.startswith(EXTERNAL)]


def _check_markdown_links(files: dict[str, bytes], model) -> list[str]:
    """Every relative link of the generated pages points at a page, a diagram or a document the site will have."""
    from generators.diagrams import views
    from generators.docs import implemented

    site = {p.removeprefix("docs/") for p in files if p.startswith("docs/") and p.endswith(".md")}
    site |= {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*") if p.is_file()}
    site |= {f"diagrams/{v.key}.svg" for v in views(model)} | {f"diagrams/{v.key}.dot" for v in views(model) if v.dot}
    site |= {f"openapi/{s.name}.json" for s in model.services if implemented(s.name)}
    broken = []
    for path, content in files.items():
        if not path.endswith(".md"):
            continue
        here = Path(path.removeprefix("docs/")).parent
        for link in _links(content.decode("utf-8")):
            target = urlsplit(link).path
            if target and os.path.normpath(here / target) not in site:
                broken.append(f"{path}: {link}")
    return broken


def test_generated_pages_link_only_to_what_the_site_has(netshop):
    assert not _check_markdown_links(render(netshop, ["docs"]), netshop)


def test_an_added_service_gets_its_page_and_joins_the_gallery_catalogue_and_neighbours(model_data):
    """GIVEN a copy of the model with a `wishlist` service that consumes order.created WHEN the docs are
    generated THEN it has its own page and navigation entry, and every page it concerns mentions it."""
    data = with_new_service(model_data)
    data["events"][0]["subscriptions"].append({
        "consumer": "wishlist", "queue": "wishlist.order-created", "binding_key": "order.created",
        "dead_letter_queue": "wishlist.order-created.dlq", "effect": "Removes bought products from wishlists"})
    model = build(data)
    files = render(model, ["docs"])
    page = files["docs/services/wishlist.md"].decode()
    assert "Saved products per user" in page and "`8110`" in page
    assert "(../diagrams/context-wishlist.svg)" in page
    assert "`GET` | `/wishlist`" in page and "`/api/wishlist`" in page
    assert "`allow-wishlist-to-redis-egress`" in page and "`allow-api-gateway-to-wishlist-ingress`" in page
    assert "| Replicas | 3 – 6 |" in page and "`topology.kubernetes.io/zone`" in page
    assert "netshop:openapi" not in page, "a service without code has no OpenAPI document to expand"
    assert "not implemented yet" in page
    nav = yaml.safe_load(files["docs/nav.yml"])
    assert "services/wishlist.md" in yaml.safe_dump(nav)
    assert "[wishlist](../services/wishlist.md)" in files["docs/services/index.md"].decode()
    assert "{ #context-wishlist }" in files["docs/diagrams.md"].decode()
    events = files["docs/events.md"].decode()
    assert "`wishlist.order-created`" in events and "`wishlist.order-created.dlq`" in events
    assert "[wishlist](../services/wishlist.md)" in files["docs/services/api-gateway.md"].decode()
    assert "[wishlist](../services/wishlist.md)" in files["docs/services/products.md"].decode()
    assert "[wishlist](../services/wishlist.md)" in files["docs/datastores/redis.md"].decode()
    assert not _check_markdown_links(files, model)


def test_an_added_flow_gets_its_page_with_its_sequence_diagram(model_data):
    model_data["flows"].append({
        "name": "order-history", "title": "Order history", "description": "A shopper lists past orders.",
        "steps": [{"from": "api-gateway", "to": "orders", "route": "GET /orders", "note": "List orders"},
                  {"from": "orders", "to": "postgres", "note": "Read the orders"}]})
    model = build(model_data)
    files = render(model, ["docs"])
    page = files["docs/flows/order-history.md"].decode()
    assert "(../diagrams/sequence-order-history.svg)" in page and "List orders" in page
    assert "[Order history](order-history.md)" in files["docs/flows/index.md"].decode()
    assert "[Order history](../flows/order-history.md)" in files["docs/services/orders.md"].decode()
    assert not _check_markdown_links(files, model)
