"""Every view of the web app, in the state worth seeing: shared by the clean-page test, the screenshot
script and the page benchmark. Data is made through the public API of the platform under test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

from services.web.session import COOKIE

APPROVE, DECLINE = "4242424242424242", "4000000000000002"


@dataclass
class Shopper:
    user: dict
    product_id: str
    order_id: str


def prepare(platform) -> Shopper:
    """A customer with a review, a confirmed order and a basket with two lines."""
    api = platform.gateway
    user = platform.user("tour")
    h = user["headers"]
    products = api.get("/api/products", params={"limit": 24}).json()["items"]
    first, second, third = products[2], products[5], products[9]
    for p, n in ((first, 1), (second, 2)):
        assert api.post("/api/cart/items", json={"product_id": p["id"], "quantity": n}, headers=h).status_code == 201
    order = api.post("/api/orders/checkout", json={"card_number": APPROVE}, headers=h | {"Idempotency-Key": str(uuid.uuid4())})
    assert order.status_code == 201, order.text
    api.post(f"/api/reviews/{first['id']}", json={"rating": 5, "title": "Wonderful", "body": "Exactly as described."}, headers=h)
    for p in (first, third):
        api.post("/api/cart/items", json={"product_id": p["id"], "quantity": 1}, headers=h)
    return Shopper(user=user, product_id=first["id"], order_id=order.json()["order_id"])


def sign_in(page, shopper: Shopper, base: str) -> None:
    page.context.add_cookies([{"name": COOKIE, "value": shopper.user["token"], "url": base, "httpOnly": True}])


def _declined(page) -> None:
    page.goto("/checkout")
    page.get_by_label("Card number").fill(DECLINE)
    page.get_by_role("button", name="Place order").click()
    page.get_by_role("alert").wait_for()


def _trace(page) -> None:
    page.goto("/console")
    page.get_by_role("button", name="Send trace").click()
    page.locator("[data-graph][data-trace='done']").wait_for(timeout=20_000)


def _order(page, order_id: str) -> None:
    page.goto(f"/orders/{order_id}")
    page.locator("[data-progress][data-complete='true']").wait_for(timeout=20_000)


def views(shopper: Shopper) -> list[tuple[str, bool, Callable]]:
    """(name, signed in, show) for every view; `show(page)` brings the page into its state."""
    return [
        ("storefront", False, lambda p: p.goto("/")),
        ("search", False, lambda p: p.goto("/search?q=coffee")),
        ("product", True, lambda p: p.goto(f"/products/{shopper.product_id}")),
        ("basket", True, lambda p: p.goto("/basket")),
        ("checkout", True, lambda p: p.goto("/checkout")),
        ("checkout-declined", True, _declined),
        ("order-confirmation", True, lambda p: _order(p, shopper.order_id)),
        ("order-history", True, lambda p: p.goto("/orders")),
        ("sign-in", False, lambda p: p.goto("/signin")),
        ("console", False, _trace),
        ("platform", True, lambda p: p.goto("/platform")),
        ("not-found", False, lambda p: p.goto("/products/no-such-product")),
    ]


# Lighthouse-style checks that need no network: landmarks, one h1, labelled controls, alt text, names on buttons and links
A11Y_PROBLEMS = """() => {
  const out = [];
  for (const sel of ['header', 'main', 'footer', 'nav']) if (!document.querySelector(sel)) out.push('no <' + sel + '>');
  if (document.querySelectorAll('h1').length !== 1) out.push(document.querySelectorAll('h1').length + ' h1 elements');
  if (!document.documentElement.lang) out.push('no lang');
  for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push('img without alt: ' + img.src);
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) out.push('unlabelled control: ' + (el.name || el.outerHTML.slice(0, 60)));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    const name = (el.getAttribute('aria-label') || el.textContent || el.title || '').trim();
    if (!name) out.push('nameless ' + el.tagName.toLowerCase() + ': ' + el.outerHTML.slice(0, 80));
  }
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (dup.length) out.push('duplicate ids: ' + [...new Set(dup)].join(', '));
  return out;
}"""
