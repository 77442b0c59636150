"""Browser helpers for the web tests: Playwright driving Debian's Chromium (never a downloaded browser),
a watcher that fails a test on any console error, and keyboard navigation by real Tab presses."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
# DEVELOPERS.md, "Real parts": the launch flags for Debian's Chromium
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "a long enough password"


@dataclass
class Watch:
    """Console errors and uncaught exceptions of one page. A document deliberately answered with an error
    status (a 404 page, a declined card's 402) makes Chromium log that status; only that line is excused."""

    errors: list[str] = field(default_factory=list)
    error_documents: set[str] = field(default_factory=set)

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("response", self._response)

    def _response(self, response) -> None:
        if response.request.is_navigation_request() and response.status >= 400:
            self.error_documents.add(response.url)

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        if msg.text.startswith("Failed to load resource") and url in self.error_documents:
            return
        self.errors.append(f"{msg.text} ({url})")

    def assert_clean(self) -> None:
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


@pytest.fixture(scope="module")
def browser(platform):
    """Chromium for one test module. Playwright's sync API keeps an event loop running while it is open,
    so it starts after the platform (whose set-up uses asyncio.run) and closes with the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def web(platform) -> str:
    """Base URL of the web service of the test platform (the model's ingress service)."""
    return platform.url(platform.model.platform.ingress.service)


class Pages:
    """New pages with a console watcher; every watcher must be clean when the test ends."""

    def __init__(self, browser, base: str) -> None:
        self.browser, self.base, self.contexts, self.watches = browser, base, [], []

    def new(self, viewport: dict | None = None):
        context = self.browser.new_context(viewport=viewport or DESKTOP, base_url=self.base)
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        watch = Watch()
        watch.attach(page)
        self.watches.append(watch)
        return page

    def close(self) -> None:
        for c in self.contexts:
            c.close()


@pytest.fixture
def pages(browser, web):
    p = Pages(browser, web)
    try:
        yield p
        for w in p.watches:
            w.assert_clean()
    finally:
        p.close()


def fresh_email(tag: str = "shopper") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def register(page, name: str = "Web Shopper", email: str | None = None) -> str:
    """Create an account through the sign-in page (by mouse); returns the email."""
    email = email or fresh_email()
    page.goto("/signin")
    form = page.locator("form[action='/register']")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r".*/$"))
    return email


def tab_to(page, locator, limit: int = 80) -> int:
    """Press Tab until `locator` has keyboard focus; returns the number of presses (fails if never reached)."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            return presses
    raise AssertionError(f"{locator} was not reachable with {limit} Tab presses")


def ready(page) -> None:
    """Wait until site.js has wired the page up. (Page-side waits use locators: the pages' CSP forbids eval.)"""
    expect(page.locator("html")).to_have_attribute("data-ready", "true")


def basket_badge(page, count: int) -> None:
    expect(page.get_by_role("link", name="Basket").locator("[data-basket-count]")).to_have_text(str(count))


def price(text: str) -> int:
    """'€1,149.00' -> 114900 (minor units)."""
    return int(re.sub(r"[^0-9]", "", text))
