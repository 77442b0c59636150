"""Web page budget, measured in Debian's Chromium on the local platform:

    .venv/bin/python bench/web_pages.py [--runs 15]        (make bench-web)

- total JavaScript across every view, gzipped: target < 150 KB;
- the home page interactive (site.js has wired the page: the `netshop-ready` mark, after DOMContentLoaded
  work) on a cold cache: target < 1 s, median and worst of the runs.
An isolated platform is started exactly as the tests start one (and stopped after).
Prints each figure with its ratio to the target (ratio < 1 is within budget); exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # as pytest's pythonpath has it

from playwright.sync_api import sync_playwright  # noqa: E402

import platform_fixture  # noqa: E402
from web_browser import DESKTOP, launch, ready  # noqa: E402
from web_tour import prepare, sign_in, views  # noqa: E402

JS_BUDGET = 150 * 1024
INTERACTIVE_BUDGET_MS = 1000.0
READY = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mark = performance.getEntriesByName('netshop-ready')[0];
  return {ready: mark ? mark.startTime : null, dom_interactive: nav.domInteractive, load: nav.loadEventEnd, ttfb: nav.responseStart};
}"""


def measure(base: str, platform, runs: int) -> dict:
    shopper = prepare(platform)
    scripts: dict[str, int] = {}
    per_page: dict[str, int] = {}
    timings: list[dict] = []
    with sync_playwright() as p:
        browser = launch(p)
        for name, signed_in, show in views(shopper):
            context = browser.new_context(viewport=DESKTOP, base_url=base)
            page = context.new_page()
            seen: dict[str, int] = {}

            def on_response(response, seen=seen) -> None:
                if response.request.resource_type == "script" and response.ok:
                    seen[response.url.split("?")[0]] = len(gzip.compress(response.body(), compresslevel=6))

            page.on("response", on_response)
            if signed_in:
                sign_in(page, shopper, base)
            show(page)
            ready(page)
            per_page[name] = sum(seen.values())
            scripts.update(seen)
            context.close()
        for i in range(runs + 2):  # two warm-up runs for the server side; every run has a cold browser cache
            context = browser.new_context(viewport=DESKTOP, base_url=base)
            page = context.new_page()
            page.goto("/")
            ready(page)
            t = page.evaluate(READY)
            if i >= 2:
                timings.append(t)
            context.close()
        browser.close()
    return {"scripts": scripts, "per_page": per_page, "timings": timings}


def report(result: dict) -> bool:
    total = sum(result["scripts"].values())
    ready_ms = [t["ready"] for t in result["timings"]]
    median, worst = statistics.median(ready_ms), max(ready_ms)
    print("JavaScript per view (gzipped):")
    for name, size in result["per_page"].items():
        print(f"  {name:20} {size / 1024:6.1f} KB")
    print("Scripts:", ", ".join(f"{u.rsplit('/', 1)[-1]} {s / 1024:.1f} KB" for u, s in sorted(result["scripts"].items())))
    print(f"\n{'figure':38} {'measured':>12} {'target':>10} {'ratio':>7}")
    rows = [
        ("total JS across all views, gzipped", total / 1024, JS_BUDGET / 1024, "KB"),
        ("home interactive, median (cold cache)", median, INTERACTIVE_BUDGET_MS, "ms"),
        ("home interactive, worst of runs", worst, INTERACTIVE_BUDGET_MS, "ms"),
    ]
    ok = True
    for label, measured, target, unit in rows:
        ratio = measured / target
        ok &= ratio < 1
        print(f"{label:38} {measured:9.1f} {unit:2} {target:7.0f} {unit:2} {ratio:7.3f}")
    ttfb = statistics.median(t["ttfb"] for t in result["timings"])
    dom = statistics.median(t["dom_interactive"] for t in result["timings"])
    print(f"\n(home, medians of {len(ready_ms)} runs: first byte {ttfb:.0f} ms, DOM interactive {dom:.0f} ms, scripts ready {median:.0f} ms)")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="ns-bench-", dir="/tmp"))
    platform = platform_fixture.start(run_dir)
    try:
        base = platform.url(platform.model.platform.ingress.service)
        ok = report(measure(base, platform, args.runs))
    finally:
        platform_fixture.stop(platform)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
