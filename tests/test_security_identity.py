"""Zero trust without a mesh: with service identity on (`Run(service_identity=True)`, i.e.
NETSHOP_SERVICE_IDENTITY=true), every east/west call carries a short-lived token the shared client signs,
naming caller and callee, and the callee accepts it only from a caller the model gives an edge to it.
Only the ingress target (web) takes unsigned calls.

This module starts its own platform with identity on, so it never changes the shared one."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from security_record import record

from model import load_model
from netshop import local
from services.common.servicetoken import HEADER, ISSUER_PREFIX, ServiceTokens
from services.common.settings import Settings

pytestmark = pytest.mark.platform

MODEL = load_model()
IMPLEMENTED = [s.name for s in MODEL.services if local.implemented(s.name)]
ENTRY = MODEL.platform.ingress.service
GUARDED = [n for n in IMPLEMENTED if n != ENTRY]
SECRET = Settings(service="web").identity_secret.get_secret_value()
REFUSALS = {"Service identity required", "Service identity rejected", "Undeclared caller"}


@pytest.fixture(scope="module")
def secure(request):
    import platform_fixture

    run_dir = Path(tempfile.mkdtemp(prefix="ns-id-", dir="/tmp"))
    p = platform_fixture.start(run_dir, service_identity=True)
    try:
        yield p
    finally:
        platform_fixture.stop(p)
        if request.session.testsfailed:
            print(f"\nidentity platform logs kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def signed(caller: str, callee: str, secret: str = SECRET) -> dict[str, str]:
    """The headers the shared client sends when `caller` calls `callee`."""
    return {HEADER: ServiceTokens(caller, secret).for_peer(callee), "X-NetShop-Caller": caller}


def probe_path(service: str, caller: str | None = None) -> tuple[str, str]:
    """A call to make: a GET route the caller's edge grants (placeholders filled), else any path (the
    identity check runs before routing)."""
    routes = []
    if caller is not None:
        edge = next(e for e in MODEL.sync_edges if e.caller == caller and e.callee == service)
        routes = [r for r in MODEL.routes_of_edge(edge) if r.method in ("GET", "ANY")]
    if not routes:
        routes = [r for r in MODEL.service_by_name[service].routes if r.method == "GET"]
    if not routes:
        return "GET", "/not-a-route"
    route = sorted(routes, key=lambda r: (r.path.count("{"), r.path))[0]
    return "GET", re.sub(r"\{[^}]+\}", "tide-speaker", route.path)


def refused(r: httpx.Response, status: int, title: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["title"] == title, body
    return body


@pytest.mark.parametrize("service", GUARDED)
def test_a_service_refuses_non_peers_and_unsigned_calls_and_serves_its_declared_callers(secure, service):
    client = secure.client(service)
    callers = MODEL.callers_of(service)
    strangers = [n for n in IMPLEMENTED if n not in callers and n != service]
    assert strangers, f"every service may call {service}?"
    method, path = probe_path(service)
    for stranger in strangers:
        body = refused(client.request(method, path, headers=signed(stranger, service)), 403, "Undeclared caller")
        assert body["caller"] == stranger
    refused(client.request(method, path), 401, "Service identity required")
    # a forged caller header without a token proves nothing
    refused(client.request(method, path, headers={"X-NetShop-Caller": callers[0] if callers else "api-gateway"}), 401,
            "Service identity required")
    for caller in callers:
        m, p = probe_path(service, caller)
        r = client.request(m, p, headers=signed(caller, service))
        assert r.status_code < 500, (caller, p, r.status_code, r.text)
        if r.headers.get("content-type", "").startswith("application/problem+json"):
            assert r.json()["title"] not in REFUSALS, (caller, p, r.text)
    # the operational routes stay open for probes and scrapers
    assert client.get("/healthz").status_code == 200
    record("identity_non_peer_calls_refused", len(strangers), service=service)
    record("identity_declared_callers_served", len(callers), service=service)


@pytest.mark.parametrize("service", GUARDED)
def test_stolen_replayed_expired_or_forged_service_tokens_are_refused(secure, service):
    client = secure.client(service)
    callers = MODEL.callers_of(service)
    caller = callers[0] if callers else IMPLEMENTED[0]
    other = next(n for n in GUARDED if n != service)
    method, path = probe_path(service)
    now = int(time.time())
    tokens = {
        # a token the caller minted for another peer, replayed here
        "audience": ServiceTokens(caller, SECRET).for_peer(other),
        "signature": ServiceTokens(caller, "not-the-identity-secret-" + "x" * 16).for_peer(service),
        "expired": jwt.encode({"iss": ISSUER_PREFIX + caller, "sub": caller, "aud": service, "iat": now - 600, "exp": now - 300},
                              SECRET, algorithm="HS256"),
        "issuer": jwt.encode({"iss": ISSUER_PREFIX + "someone-else", "sub": caller, "aud": service, "iat": now, "exp": now + 60},
                             SECRET, algorithm="HS256"),
        "alg=none": jwt.encode({"iss": ISSUER_PREFIX + caller, "sub": caller, "aud": service, "iat": now, "exp": now + 60},
                               None, algorithm="none"),
    }
    for why, token in tokens.items():
        r = client.request(method, path, headers={HEADER: token})
        assert r.status_code == 401 and r.json()["title"] == "Service identity rejected", (why, r.text)
    record("identity_forged_tokens_refused", len(tokens), service=service)


def test_the_whole_shop_still_works_with_identity_on(secure):
    """Every hop of a real journey is signed by the shared client: web -> frontend -> gateway -> services ->
    their peers. The test reaches the gateway as the frontend would."""
    as_frontend = signed("frontend", "api-gateway")
    gw = secure.gateway
    assert gw.get("/api/products").status_code == 401  # the gateway is not the ingress
    email, password = f"zt-{uuid.uuid4().hex[:8]}@example.com", "a long enough password"
    assert gw.post("/api/auth/register", headers=as_frontend, json={"email": email, "password": password, "name": "Zt"}).status_code == 201
    token = gw.post("/api/auth/login", headers=as_frontend, json={"email": email, "password": password}).json()["access_token"]
    user = {**as_frontend, "Authorization": f"Bearer {token}"}
    product = gw.get("/api/products", headers=as_frontend, params={"limit": 1}).json()["items"][0]["id"]
    assert gw.post("/api/cart/items", headers=user, json={"product_id": product, "quantity": 1}).status_code == 201
    r = gw.post("/api/orders/checkout", headers={**user, "Idempotency-Key": uuid.uuid4().hex}, json={"card_number": "4242424242424242"})
    assert r.status_code == 201, r.text  # orders -> users, cart, products, payments, all signed
    assert gw.get("/api/search", headers=as_frontend, params={"q": "speaker"}).status_code == 200  # search -> products
    assert gw.get(f"/api/recommendations/{product}", headers=as_frontend).status_code == 200  # recommendations -> products
    # the ingress target takes the browser's unsigned request and signs its own calls onward
    home = secure.client(ENTRY).get("/")
    assert home.status_code == 200 and product in home.text
