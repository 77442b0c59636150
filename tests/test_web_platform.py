"""The platform view in a real browser: JWT sign-in with decoded claims, and the model's catalogue."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from web_browser import browser, pages, web  # noqa: F401


def test_jwt_sign_in_shows_the_tokens_claims_and_expiry(pages, platform):
    user = platform.user("claims")
    page = pages.new()
    page.goto("/platform")
    page.get_by_label("Email").fill(user["email"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Identity: your access token").wait_for()
    claims = {r.get_attribute("data-claim"): r.locator("td").first.inner_text() for r in page.locator("[data-claim]").all()}
    assert {"sub", "exp", "iat", "iss", "aud"} <= claims.keys()
    assert claims["sub"] == user["id"] and claims["email"] == user["email"]
    assert claims["iss"] == "netshop-auth" and claims["aud"] == "netshop"
    exp = int(claims["exp"].split()[0])
    assert 0 < exp - time.time() <= 3600
    assert "Verified by auth" in page.locator(".verified").inner_text()
    assert '"alg": "HS256"' in page.locator(".token-parts pre").inner_text()
    assert user["token"].split(".")[2] not in page.content()  # the signature is never shown
    countdown = page.locator("[data-expires-at]")
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)


def test_catalogue_and_capability_cards_come_from_the_model(pages, platform):
    model = platform.model
    page = pages.new()
    page.goto("/platform")
    rows = {r.get_attribute("data-workload"): r for r in page.locator("[data-workload]").all()}
    assert set(rows) == {s.name for s in model.services} | {d.name for d in model.datastores}
    for s in model.services:
        cells = rows[s.name].locator("td").all_inner_texts()
        assert cells[0] == model.tier_by_name[s.tier].title and cells[2] == str(s.port)
        assert cells[3] == (", ".join(d.name for d in model.datastores_of(s.name)) or "—")
    cards = page.locator("article.capability")
    assert [c.get_attribute("id") for c in cards.all()] == [f"cap-{c.id}" for c in model.capabilities]
    for cap in model.capabilities:
        links = page.locator(f"#cap-{cap.id} a").all_inner_texts()
        assert set(cap.artifacts) <= set(links)
