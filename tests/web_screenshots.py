"""Screenshots of every view at desktop and phone widths, for the docs and the README:

    .venv/bin/python tests/web_screenshots.py [OUT_DIR]      (make screenshots; default docs/assets/screenshots)

Starts an isolated platform exactly as the tests do, fills it through the public API, and drives
Debian's Chromium through each view (tests/web_tour.py)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # as pytest's pythonpath has it

from playwright.sync_api import sync_playwright  # noqa: E402

import platform_fixture  # noqa: E402
from web_browser import DESKTOP, PHONE, launch, ready  # noqa: E402
from web_tour import prepare, sign_in, views  # noqa: E402


def capture(platform, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    base = platform.url(platform.model.platform.ingress.service)
    shopper = prepare(platform)
    written = []
    with sync_playwright() as p:
        browser = launch(p)
        for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            for name, signed_in, show in views(shopper):
                context = browser.new_context(viewport=viewport, base_url=base, device_scale_factor=1)
                context.set_default_timeout(20_000)
                page = context.new_page()
                if signed_in:
                    sign_in(page, shopper, base)
                show(page)
                ready(page)
                page.wait_for_timeout(2300)  # one round of live updates
                target = out / f"{name}-{width_name}.png"
                page.screenshot(path=str(target), full_page=name not in ("storefront", "search") or width_name == "phone")
                written.append(target)
                context.close()
        browser.close()
    return written


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "assets" / "screenshots"
    run_dir = Path(tempfile.mkdtemp(prefix="ns-shots-", dir="/tmp"))
    platform = platform_fixture.start(run_dir)
    try:
        for path in capture(platform, out):
            print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    finally:
        platform_fixture.stop(platform)
    return 0


if __name__ == "__main__":
    sys.exit(main())
