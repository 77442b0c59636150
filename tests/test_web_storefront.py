"""The storefront in a real browser (Debian's Chromium) against the platform as `make up` starts it."""

from __future__ import annotations

import re

import httpx

from netshop import local
from playwright.sync_api import expect

from web_browser import PASSWORD, basket_badge, browser, fresh_email, pages, price, register, tab_to, web  # noqa: F401

APPROVE, DECLINE = "4242 4242 4242 4242", "4000 0000 0000 0002"
STEPS = ["User validated", "Basket priced", "Payment authorised", "Order stored", "Event published"]


def answers(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.HTTPError:  # still starting
        return False


def basket_count(page) -> int:
    return int(page.get_by_role("link", name="Basket").locator("[data-basket-count]").inner_text())


def expect_confirmed(page, shop, email: str) -> str:
    page.get_by_role("heading", name="Order confirmed").wait_for()
    order_id = page.url.rsplit("/", 1)[-1]
    # the saga's steps as they happened, then all three workers' effects (the page polls until they are in)
    page.locator("[data-progress][data-complete='true']").wait_for(timeout=20_000)
    steps = page.locator(".timeline-step.step-ok .step-title").all_inner_texts()
    assert steps == STEPS
    effects = {e.get_attribute("data-effect") for e in page.locator(".effect.effect-done").all()}
    assert effects == {s.consumer for e in shop.model.events for s in e.subscriptions}
    return order_id


def test_full_purchase_journey_by_mouse(pages, platform):
    page = pages.new()
    email = register(page)
    assert basket_count(page) == 0
    # add from the grid, then from a product page
    page.locator("article.card").nth(0).get_by_role("button", name="Add to cart").click()
    basket_badge(page, 1)
    page.locator("article.card").nth(1).locator("a.card-link").click()
    page.get_by_role("heading", level=1).wait_for()
    page.get_by_role("button", name="Add to cart").first.click()
    basket_badge(page, 2)
    # basket: raise the first line to 3
    page.get_by_role("link", name="Basket").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    unit = price(rows.nth(0).locator("td.num").nth(0).inner_text())
    rows.nth(0).get_by_role("spinbutton").fill("3")
    rows.nth(0).get_by_role("button", name="Update").click()
    page.get_by_text("Basket updated.").wait_for()
    assert price(page.locator("tbody tr").nth(0).locator("td.num").nth(1).inner_text()) == 3 * unit
    assert basket_count(page) == 4
    total = price(page.locator("[data-basket-total]").inner_text())
    page.get_by_role("button", name="Checkout").click()
    assert "4242 4242 4242 4242" in page.locator("#card-hint").inner_text()  # the test-card hint
    page.get_by_label("Card number").fill(APPROVE)
    page.get_by_role("button", name="Place order").click()
    order_id = expect_confirmed(page, platform, email)
    assert price(page.locator(".summary-total strong").inner_text()) == total
    assert basket_count(page) == 0
    page.get_by_role("link", name="Orders", exact=True).click()
    assert page.get_by_role("link", name=order_id[:8]).count() == 1


def test_full_purchase_journey_by_keyboard(pages, platform):
    page = pages.new()
    page.goto("/signin")
    email = fresh_email("keyboard")
    tab_to(page, page.get_by_label("Name"))
    page.keyboard.type("Key Board")
    page.keyboard.press("Tab")
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/$"))
    tab_to(page, page.get_by_role("button", name="Add to cart").first)
    page.keyboard.press("Enter")
    basket_badge(page, 1)
    page.keyboard.press("Shift+Tab")  # the grid is long: walk back up to the header's Basket link
    for _ in range(80):
        if page.get_by_role("link", name="Basket").evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/basket$"))
    tab_to(page, page.get_by_role("button", name="Checkout"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/checkout\??$"))
    tab_to(page, page.get_by_label("Card number"))
    page.keyboard.type(APPROVE)
    tab_to(page, page.get_by_role("button", name="Place order"), limit=5)
    page.keyboard.press("Enter")
    expect_confirmed(page, platform, email)


def test_search_with_category_and_price_filters(pages, platform):
    page = pages.new()
    page.goto("/")
    page.get_by_label("Search products").fill("coffee")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Results for “coffee”").wait_for()
    names = page.locator("article.card .card-title").all_inner_texts()
    assert names and any("Coffee" in n for n in names)
    categories = {p["id"]: p["category"] for p in platform.gateway.get("/api/products", params={"limit": 100}).json()["items"]}
    category = categories[page.locator("article.card").first.get_attribute("data-product")]
    page.get_by_label("Category").select_option(category)
    page.get_by_label("To").fill("60")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*max_price=60.*"))
    cards = page.locator("article.card")
    assert cards.count() >= 1
    for card in cards.all():
        assert categories[card.get_attribute("data-product")] == category
        assert price(card.locator(".price").inner_text()) <= 6000
    page.get_by_label("Search products").fill("zzzz-no-such-thing")
    page.keyboard.press("Enter")
    page.get_by_text("Nothing matches").wait_for()


def test_a_review_changes_the_live_rating_on_an_open_page(pages, platform):
    products = platform.gateway.get("/api/products", params={"limit": 24}).json()["items"]
    ratings = platform.gateway.get("/api/ratings", params={"ids": ",".join(p["id"] for p in products)}).json()["ratings"]
    target = next(p for p in products if ratings[p["id"]]["count"] == 0)
    watcher = pages.new()
    watcher.goto("/")
    stars = watcher.locator(f"[data-rating-for='{target['id']}']")
    assert stars.get_attribute("aria-label") == "Not rated yet"

    author = pages.new()
    register(author, "Reviewer")
    author.goto(f"/products/{target['id']}")
    author.locator("label[for='rate-4']").click()
    author.get_by_label("Title").fill("Does the job")
    author.get_by_label("Your review").fill("Solid and well made.")
    author.get_by_role("button", name="Post review").click()
    author.get_by_text("Thanks! Your review is live.").wait_for()
    assert author.locator("#reviews .review").first.get_by_text("Does the job").count() == 1
    assert author.locator(f"[data-rating-for='{target['id']}']").first.get_attribute("aria-label") == \
        "Rated 4.0 out of 5 from 1 review"
    # the open storefront picks the new rating up live, without a reload
    expect(stars).to_have_attribute("aria-label", "Rated 4.0 out of 5 from 1 review", timeout=15_000)
    assert stars.locator(".star-full").count() == 4


def test_a_declined_card_shows_why_and_places_no_order(pages, platform):
    page = pages.new()
    register(page)
    page.get_by_role("button", name="Add to cart").first.click()
    basket_badge(page, 1)
    page.goto("/checkout")
    page.get_by_label("Card number").fill(DECLINE)
    with page.expect_response(lambda r: r.url.endswith("/checkout") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Place order").click()
    assert answer.value.status == 402
    alert = page.get_by_role("alert")
    assert "Payment declined" in alert.inner_text() and "nothing was charged" in alert.inner_text()
    assert basket_count(page) == 1  # the basket is kept for another card
    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_text("No orders yet.").wait_for()


def test_empty_basket_and_a_service_down_have_clear_error_states(pages, platform):
    page = pages.new()
    register(page)
    page.goto("/checkout")
    assert "Your basket is empty" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name="Place order").count() == 0
    search = next(s.name for s in platform.model.services if any(r.path == "/search" for r in s.routes) and s.tier != "edge")
    local.supervisorctl(platform.run, "stop", search)
    try:
        page.goto("/search?q=lamp")
        assert "Search is unavailable right now" in page.get_by_role("alert").inner_text()
        assert page.get_by_role("link", name="Basket").is_visible()  # the rest of the shop still works
    finally:
        local.supervisorctl(platform.run, "start", search)
    bff = platform.model.peers_of(platform.model.platform.ingress.service)[0]
    local.supervisorctl(platform.run, "stop", bff)
    try:
        response = page.goto("/")
        assert response.status == 503
        page.get_by_role("heading", name="Temporarily unavailable").wait_for()
    finally:
        local.supervisorctl(platform.run, "start", bff)
        platform.eventually(lambda: answers(platform.client(bff), "/readyz"), timeout=30)
        # web's circuit breaker to the BFF opened during the outage; it closes after its cool-down
        platform.eventually(lambda: answers(platform.client(platform.model.platform.ingress.service), "/"), timeout=30, interval=0.5)
    assert page.goto("/").status == 200
