"""Every view in Chromium at desktop and phone widths: no console errors, Lighthouse-style structure;
and the web service's HTTP rules (security headers, same-origin forms, no open redirects)."""

from __future__ import annotations

import httpx
import pytest

from web_browser import DESKTOP, PHONE, browser, pages, ready, web  # noqa: F401
from web_tour import A11Y_PROBLEMS, prepare, sign_in, views


@pytest.fixture(scope="module")
def shopper(platform):
    return prepare(platform)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_view_renders_without_console_errors(pages, web, shopper, viewport):
    for name, signed_in, show in views(shopper):
        page = pages.new(viewport)
        if signed_in:
            sign_in(page, shopper, web)
        show(page)
        ready(page)
        assert page.evaluate(A11Y_PROBLEMS) == [], name
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {viewport['width']}px"
        page.context.close()


def test_pages_carry_security_headers_and_refuse_cross_site_forms(web):
    with httpx.Client(base_url=web, timeout=10) as client:
        home = client.get("/")
        csp = home.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert home.headers["x-content-type-options"] == "nosniff"
        refused = client.post("/signin", data={"email": "a@example.com", "password": "x"}, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403 and "Cross-site request refused" in refused.text
        refused = client.post("/basket/items", data={"product_id": "x"}, headers={"Sec-Fetch-Site": "cross-site"})
        assert refused.status_code == 403
        asset = client.get("/static/site.css", params={"v": "x"})
        assert asset.headers["cache-control"].startswith("public, max-age=31536000")


def test_sign_in_keeps_the_token_in_an_httponly_cookie_and_never_redirects_off_site(web, platform):
    user = platform.user("cookie")
    with httpx.Client(base_url=web, timeout=10) as client:
        resp = client.post("/signin", data={"email": user["email"], "password": user["password"], "next": "//evil.example/x"})
        assert resp.status_code == 303 and resp.headers["location"] == "/"
        cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith("netshop_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        # the same-origin API never turns the cookie into a token: a page cannot spend the session through it
        assert client.get("/api/cart").status_code == 401
        assert client.get("/basket").status_code == 200
        bad = client.post("/signin", data={"email": user["email"], "password": "wrong password"})
        assert bad.status_code == 401 and "Email or password is wrong." in bad.text
