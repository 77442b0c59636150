"""The storefront: home, search, product pages, basket, checkout, orders, sign-in and registration.
Every page works without JavaScript (forms post and redirect); site.js only enhances."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from services.common.problems import Problem
from services.payments.cards import DECLINE_MESSAGES, TEST_CARDS

from .runtime import (basket_count, bff, bff_json, fragment, gather, json_response, optional, redirect, render, safe_next,
                      same_origin, wants_json)
from .session import Session, flash, session_of, sign_in, sign_out

router = APIRouter()
ProductId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]
OrderId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
SessionDep = Annotated[Session, Depends(session_of)]
Posted = Depends(same_origin)


def test_cards() -> list[dict]:
    """The payments service's documented test cards, for the checkout hint."""
    return [{"number": " ".join(n[i:i + 4] for i in range(0, len(n), 4)),
             "outcome": "approves" if code is None else DECLINE_MESSAGES.get(code, code).removeprefix("The card ").rstrip(".")}
            for n, code in TEST_CARDS.items()]


def _require_sign_in(session: Session, next_path: str, message: str) -> Response | None:
    if session.signed_in:
        return None
    response = redirect("/signin?" + urlencode({"next": next_path}))
    flash(response, "info", message)
    return response


# --------------------------------------------------------------------------- browse


@router.get("/", summary="Storefront home with live metrics and the product grid")
async def home(request: Request, session: SessionDep, category: Annotated[str | None, Query(max_length=40)] = None):
    params = {"limit": "24"} | ({"category": category} if category else {})
    page, metrics, state = await gather(
        bff_json("GET", "/bff/home", request, session, params=params),
        optional(bff_json("GET", "/bff/metrics", request)), optional(bff_json("GET", "/bff/platform", request)),
    )
    basket = page["basket"]["count"] if page.get("basket") else (0 if session.signed_in else None)
    return render(request, "home.html", {"page": page, "metrics": metrics, "state": state, "category": category,
                                         "title": "Shop"}, session=session, basket=basket)


def _price_minor(value: str | None) -> int | None:
    """A price typed in the filter form (major units, e.g. `49.90`) in minor units; empty means no bound."""
    if value is None or not value.strip():
        return None
    try:
        amount = round(float(value.replace(",", ".")) * 100)
    except ValueError:
        raise Problem(422, f"{value!r} is not a price.", title="Invalid filter") from None
    if amount < 0:
        raise Problem(422, "Prices cannot be negative.", title="Invalid filter")
    return amount


@router.get("/search", summary="Search results with filters")
async def search(request: Request, session: SessionDep, q: Annotated[str, Query(max_length=200)] = "",
                 category: Annotated[str, Query(max_length=40)] = "", min_price: Annotated[str, Query(max_length=12)] = "",
                 max_price: Annotated[str, Query(max_length=12)] = ""):
    form = {"q": q, "category": category, "min_price": min_price, "max_price": max_price}
    error = None
    params: dict[str, str] = {"q": q}
    try:
        lo, hi = _price_minor(min_price), _price_minor(max_price)
        if lo is not None and hi is not None and lo > hi:
            raise Problem(422, "The lowest price is above the highest price.", title="Invalid filter")
    except Problem as exc:
        error, lo, hi = exc.detail, None, None
    params |= {k: str(v) for k, v in (("category", category or None), ("min_price", lo), ("max_price", hi)) if v is not None}
    found, basket = await gather(optional(bff_json("GET", "/bff/search", request, session, params=params)),
                                 basket_count(request, session))
    status = 200
    if found is None:
        error, status = "Search is unavailable right now; the rest of the shop still works. Please try again in a moment.", 503
    return render(request, "search.html", {"found": found, "form": form, "error": error, "title": f"Search: {q}" if q else "Search"},
                  session=session, basket=basket, status=status)


@router.get("/products/{product_id}", summary="Product page with reviews and recommendations")
async def product(request: Request, session: SessionDep, product_id: ProductId):
    page, basket = await gather(bff_json("GET", f"/bff/products/{product_id}", request, session), basket_count(request, session))
    return render(request, "product.html", {"page": page, "title": page["product"]["name"]}, session=session, basket=basket)


@router.post("/products/{product_id}/reviews", dependencies=[Posted], summary="Post a review")
async def post_review(request: Request, session: SessionDep, product_id: ProductId, rating: Annotated[str, Form()] = "",
                      title: Annotated[str, Form()] = "", body: Annotated[str, Form()] = ""):
    back = f"/products/{product_id}"
    if refused := _require_sign_in(session, back, "Sign in to review a product."):
        return refused
    response = redirect(back + "#reviews")
    if not rating.isdigit() or not 1 <= int(rating) <= 5:
        flash(response, "error", "Choose a rating from 1 to 5 stars.")
        return response
    if not title.strip():
        flash(response, "error", "Give your review a title.")
        return response
    resp = await bff("POST", f"/api/reviews/{product_id}", request, session,
                     json={"rating": int(rating), "title": title.strip(), "body": body.strip()})
    if resp.status == 201:
        flash(response, "success", "Thanks! Your review is live.")
    elif resp.status in (401, 409, 422):
        flash(response, "error", (resp.json() or {}).get("detail", "The review was not accepted."))
    else:
        resp.expect(201)
    return response


# --------------------------------------------------------------------------- basket


@router.post("/basket/items", dependencies=[Posted], summary="Add a product to the basket")
async def add_to_basket(request: Request, session: SessionDep, product_id: Annotated[str, Form(pattern=r"^[a-z0-9-]{1,64}$")],
                        quantity: Annotated[int, Form(ge=1, le=99)] = 1, next_path: Annotated[str, Form(alias="next")] = "/basket"):
    back = safe_next(next_path, "/basket")
    if not session.signed_in:
        if wants_json(request):
            return json_response({"signin": "/signin?" + urlencode({"next": back})}, 401)
        return _require_sign_in(session, back, "Sign in to fill your basket.")
    resp = await bff("POST", "/api/cart/items", request, session, json={"product_id": product_id, "quantity": quantity})
    basket = resp.expect(201)
    name = next((i["name"] for i in basket["items"] if i["product_id"] == product_id), product_id)
    if wants_json(request):
        return json_response({"count": basket["count"], "name": name, "total_minor": basket["total_minor"]})
    response = redirect(back)
    flash(response, "success", f"Added {name} to your basket.")
    return response


@router.get("/basket", summary="Basket with quantity changes")
async def basket(request: Request, session: SessionDep):
    if refused := _require_sign_in(session, "/basket", "Sign in to see your basket."):
        return refused
    cart = await bff_json("GET", "/api/cart", request, session)
    return render(request, "basket.html", {"cart": cart, "title": "Basket"}, session=session, basket=cart["count"])


@router.post("/basket/items/{product_id}", dependencies=[Posted], summary="Change a basket line's quantity (0 removes it)")
async def set_quantity(request: Request, session: SessionDep, product_id: ProductId, quantity: Annotated[str, Form()] = "1"):
    if refused := _require_sign_in(session, "/basket", "Sign in to see your basket."):
        return refused
    response = redirect("/basket")
    if not quantity.strip().isdigit() or int(quantity) > 99:
        flash(response, "error", "Quantities are whole numbers from 0 to 99.")
        return response
    resp = await bff("PUT", f"/api/cart/items/{product_id}", request, session, json={"quantity": int(quantity)})
    if resp.status == 404:
        flash(response, "error", "That product is no longer in your basket.")
        return response
    resp.expect(200)
    flash(response, "success", "Removed from your basket." if int(quantity) == 0 else "Basket updated.")
    return response


# --------------------------------------------------------------------------- checkout and orders


def _checkout_page(request: Request, session: Session, cart: dict, *, error: dict | None = None, status: int = 200,
                   card: str = ""):
    return render(request, "checkout.html", {"cart": cart, "error": error, "cards": test_cards(), "card": card,
                                             "idempotency_key": str(uuid.uuid4()), "title": "Checkout"},
                  session=session, basket=cart["count"], status=status)


@router.get("/checkout", summary="Checkout form")
async def checkout(request: Request, session: SessionDep):
    if refused := _require_sign_in(session, "/checkout", "Sign in to check out."):
        return refused
    cart = await bff_json("GET", "/api/cart", request, session)
    return _checkout_page(request, session, cart)


DECLINE_TITLES = {402: "Payment declined", 409: "Nothing to check out", 422: "Check the card number", 503: "Checkout unavailable"}


@router.post("/checkout", dependencies=[Posted], summary="Place the order (runs the checkout saga)")
async def place_order(request: Request, session: SessionDep, card_number: Annotated[str, Form()] = "",
                      idempotency_key: Annotated[str, Form()] = ""):
    if refused := _require_sign_in(session, "/checkout", "Sign in to check out."):
        return refused
    key = idempotency_key if 8 <= len(idempotency_key) <= 200 else str(uuid.uuid4())
    resp = await bff("POST", "/api/orders/checkout", request, session, json={"card_number": card_number.strip()},
                     headers={"Idempotency-Key": key})
    if resp.status in (200, 201):
        return redirect(f"/orders/{resp.json()['order_id']}")
    if resp.status not in DECLINE_TITLES and resp.status != 400:
        resp.expect(201)
    problem = resp.json() or {}
    detail = problem.get("detail", "The order was not placed.")
    if resp.status == 402:
        detail += " No order was placed and nothing was charged. Try another card."
    elif resp.status == 422:
        detail = "Enter a card number of 12 to 23 digits (spaces are fine)."
    cart = await bff_json("GET", "/api/cart", request, session)
    return _checkout_page(request, session, cart, status=resp.status, card=card_number,
                          error={"title": DECLINE_TITLES.get(resp.status, "Order not placed"), "detail": detail})


@router.get("/orders", summary="Order history")
async def orders(request: Request, session: SessionDep):
    if refused := _require_sign_in(session, "/orders", "Sign in to see your orders."):
        return refused
    history, basket = await gather(bff_json("GET", "/api/orders", request, session, params={"limit": "50"}),
                                   basket_count(request, session))
    return render(request, "orders.html", {"history": history, "title": "Your orders"}, session=session, basket=basket)


@router.get("/orders/{order_id}", summary="Order confirmation with the saga timeline")
async def order(request: Request, session: SessionDep, order_id: OrderId, part: Annotated[str | None, Query(pattern="^progress$")] = None):
    if refused := _require_sign_in(session, f"/orders/{order_id}", "Sign in to see your order."):
        return refused
    if part:
        view = await bff_json("GET", f"/bff/orders/{order_id}", request, session)
        return fragment(request, "_order_progress.html", {"view": view})
    view, basket = await gather(bff_json("GET", f"/bff/orders/{order_id}", request, session), basket_count(request, session))
    return render(request, "order.html", {"view": view, "title": "Order confirmed"}, session=session, basket=basket)


# --------------------------------------------------------------------------- sign-in and registration


@router.get("/signin", summary="Sign-in and registration")
async def signin(request: Request, session: SessionDep, next_path: Annotated[str, Query(alias="next", max_length=500)] = "/"):
    return render(request, "signin.html", {"next": safe_next(next_path), "title": "Sign in", "errors": {}, "form": {}}, session=session)


async def _login(request: Request, email: str, password: str) -> tuple[dict | None, dict | None]:
    resp = await bff("POST", "/api/auth/login", request, json={"email": email, "password": password})
    if resp.status == 200:
        return resp.json(), None
    if resp.status in (401, 422, 429):
        detail = (resp.json() or {}).get("detail", "Sign-in failed.")
        return None, {"signin": "Enter your email and password." if resp.status == 422 else detail}
    resp.expect(200)
    return None, None


def _signed_in(request: Request, token: dict, next_path: str, message: str) -> Response:
    response = redirect(next_path)
    sign_in(response, request, token["access_token"], int(token.get("expires_in", 900)))
    flash(response, "success", message)
    return response


@router.post("/signin", dependencies=[Posted], summary="Sign in")
async def do_signin(request: Request, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                    next_path: Annotated[str, Form(alias="next")] = "/"):
    target = safe_next(next_path)
    token, errors = await _login(request, email.strip(), password)
    if token:
        return _signed_in(request, token, target, "You are signed in.")
    return render(request, "signin.html", {"next": target, "title": "Sign in", "errors": errors, "form": {"email": email}},
                  session=Session(), status=401 if "signin" in (errors or {}) else 400)


@router.post("/register", dependencies=[Posted], summary="Create an account and sign in")
async def register(request: Request, name: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "",
                   password: Annotated[str, Form()] = "", next_path: Annotated[str, Form(alias="next")] = "/"):
    target = safe_next(next_path)
    form = {"name": name, "register_email": email}
    errors: dict = {}
    resp = await bff("POST", "/api/auth/register", request, json={"name": name.strip(), "email": email.strip(), "password": password})
    if resp.status == 201:
        token, errors = await _login(request, email.strip(), password)
        if token:
            return _signed_in(request, token, target, f"Welcome, {name.strip()}! Your account is ready.")
        errors = {"register": "Your account was created, but signing in failed; sign in below."}
    elif resp.status in (409, 422):
        problem = resp.json() or {}
        fields = {e.get("field", "").rsplit(".", 1)[-1] for e in problem.get("errors", [])}
        message = problem.get("detail", "Registration failed.")
        if "password" in fields:
            message = "Choose a password of at least 8 characters."
        elif "email" in fields:
            message = "Enter a valid email address."
        elif "name" in fields:
            message = "Tell us your name."
        errors = {"register": message}
    else:
        resp.expect(201)
    return render(request, "signin.html", {"next": target, "title": "Create an account", "errors": errors, "form": form},
                  session=Session(), status=409 if resp.status == 409 else 422)


@router.post("/signout", dependencies=[Posted], summary="Sign out")
async def signout():
    response = redirect("/")
    sign_out(response)
    flash(response, "info", "You are signed out.")
    return response


# --------------------------------------------------------------------------- live data for page scripts


@router.get("/live/ratings", summary="Current ratings of products on the page (live stars)")
async def live_ratings(request: Request, ids: Annotated[str, Query(max_length=4000, pattern=r"^[a-z0-9,-]*$")]):
    return json_response(await bff_json("GET", "/api/ratings", request, params={"ids": ids}))
