"""Attacks on the running platform: forged and replayed JWTs, login brute force, SQL injection in search
and reviews, oversized bodies, and secrets leaking into logs. Each attack must be refused with a
problem+json (or be harmless), and the refusal is checked on the real services."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import itertools
import json
import time
import uuid

import httpx
import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from security_record import record
from test_platform_e2e import pg  # (platform, query, *args) -> rows, on the run's own database

from netshop import local
from services.common.settings import Settings

pytestmark = pytest.mark.platform

SETTINGS = Settings(service="auth")  # the same environment the platform's auth reads
SECRET = SETTINGS.jwt_secret.get_secret_value()
CARD_OK = "4242424242424242"
SQL_INJECTIONS = [
    "'; DROP TABLE reviews; --",
    "1' OR '1'='1",
    "Robert'); DROP TABLE ratings;--",
    '" OR ""="',
    "x'; SELECT pg_sleep(3); --",
    "$1 UNION SELECT password_hash FROM auth.accounts --",
    "\\'; TRUNCATE products.products CASCADE; --",
]


def problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["detail"]
    return body


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(sub: str, **over) -> dict:
    now = int(time.time())
    return {"sub": sub, "email": "x@example.com", "iat": now, "nbf": now, "exp": now + 300, "iss": SETTINGS.jwt_issuer,
            "aud": SETTINGS.jwt_audience, "jti": uuid.uuid4().hex, **over}


# --------------------------------------------------------------------------- JWT attacks


def hs256(payload: dict, key: bytes) -> str:
    """HS256 by hand: PyJWT (rightly) refuses to use a PEM key as an HMAC secret, an attacker does not."""
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(payload).encode())
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def attacks(user: dict) -> dict[str, tuple[str, str]]:
    """Each attack's token and the `reason` auth must give for refusing it."""
    real = user["token"]
    header, payload, signature = real.split(".")
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_pem = attacker.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = attacker.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    forged_payload = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_payload["sub"] = str(uuid.uuid4())
    return {
        "alg=none": (b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(claims(user["id"])).encode()) + ".", "malformed"),
        "alg=None, signature kept": (b64(b'{"alg":"None","typ":"JWT"}') + "." + payload + "." + signature, "malformed"),
        # RS256 with the attacker's key embedded as a JWK: a verifier that trusts the header would accept it
        "RS256 with embedded jwk": (jwt.encode(claims(user["id"]), attacker_pem, algorithm="RS256", headers={"jwk": jwk}), "malformed"),
        # the classic confusion: HS256 keyed with an RSA public key, for verifiers that pass one key to any alg
        "HS256 keyed with an RSA public key": (hs256(claims(user["id"]), public_pem), "signature"),
        "HS512 with the real secret": (jwt.encode(claims(user["id"]), SECRET, algorithm="HS512"), "malformed"),
        "forged signature": (jwt.encode(claims(user["id"]), "not-the-secret-" + "x" * 32, algorithm="HS256"), "signature"),
        "payload swapped under a real signature": (header + "." + b64(json.dumps(forged_payload).encode()) + "." + signature, "signature"),
        "expired": (jwt.encode(claims(user["id"], iat=int(time.time()) - 3600, nbf=int(time.time()) - 3600,
                                      exp=int(time.time()) - 60), SECRET, algorithm="HS256"), "expired"),
        "wrong audience": (jwt.encode(claims(user["id"], aud="another-shop"), SECRET, algorithm="HS256"), "audience"),
        "wrong issuer": (jwt.encode(claims(user["id"], iss="evil-auth"), SECRET, algorithm="HS256"), "issuer"),
        "no expiry": (jwt.encode({k: v for k, v in claims(user["id"]).items() if k != "exp"}, SECRET, algorithm="HS256"), "malformed"),
        "unknown user": (jwt.encode(claims(str(uuid.uuid4())), SECRET, algorithm="HS256"), "deleted"),
    }


def test_every_jwt_attack_is_refused_by_auth_and_by_the_gateway(platform):
    user = platform.user("jwt")
    cases = attacks(user)
    for name, (token, reason) in cases.items():
        verdict = problem(platform.client("auth").post("/auth/verify", json={"token": token}), 401)
        assert verdict["reason"] == reason, (name, verdict)
        gateway = problem(platform.gateway.get("/api/cart", headers={"Authorization": f"Bearer {token}"}), 401)
        assert gateway["reason"] == reason, (name, gateway)
        assert problem(platform.client("auth").get("/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)["reason"] == reason
    # and the genuine token still works, so the refusals are about the attacks
    assert platform.gateway.get("/api/cart", headers=user["headers"]).status_code == 200
    record("jwt_attacks_rejected", len(cases))
    record("jwt_attacks_tried", len(cases))


def test_a_deleted_accounts_token_stops_working_at_once(platform):
    user = platform.user("leaver")
    assert platform.gateway.get("/api/orders", headers=user["headers"]).status_code == 200  # now cached at the gateway
    assert platform.gateway.delete("/api/auth/me", headers=user["headers"]).status_code == 204
    assert problem(platform.gateway.get("/api/orders", headers=user["headers"]), 401)["reason"] == "deleted"
    assert problem(platform.client("auth").post("/auth/verify", json={"token": user["token"]}), 401)["reason"] == "deleted"
    # and the account cannot sign in again
    problem(platform.gateway.post("/api/auth/login", json={"email": user["email"], "password": user["password"]}), 401)


# --------------------------------------------------------------------------- brute force


_clients = itertools.count(1)


def fresh_client() -> str:
    """A client address no other test of this session uses (198.18.0.0/15, for benchmarks), so each test
    starts with empty per-client counters."""
    n = next(_clients)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def _login(platform, email: str, password: str, client: str) -> httpx.Response:
    return platform.gateway.post("/api/auth/login", json={"email": email, "password": password}, headers={"X-Forwarded-For": client})


def test_guessing_one_accounts_password_is_stopped_with_429_and_retry_after(platform):
    user = platform.user("guessed")
    client = fresh_client()
    codes = [_login(platform, user["email"], f"guess-{i}", client).status_code for i in range(5)]
    assert codes == [401] * 5
    refused = _login(platform, user["email"], "guess-6", client)
    body = problem(refused, 429)
    assert 0 < int(refused.headers["retry-after"]) <= 900 and body["retry_after"] == int(refused.headers["retry-after"])
    # the right password waits out the window too, from any address
    problem(_login(platform, user["email"], user["password"], fresh_client()), 429)
    keys = [k.decode() for k in redis.Redis().scan_iter(match=f"{platform.run.key_prefix}:auth:fail:*", count=1000)]
    assert any(user["email"] in k for k in keys), keys  # the counters live in Redis, shared by every auth replica
    record("brute_force_account_attempts_before_429", codes.count(401))


def test_concurrent_guesses_cannot_slip_past_the_limit(platform):
    user = platform.user("raced")
    client = fresh_client()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda i: _login(platform, user["email"], f"race-{i}", client).status_code, range(20)))
    assert codes.count(401) == 5 and codes.count(429) == 15, codes
    record("brute_force_concurrent_guesses_checked", codes.count(401))


def test_stuffing_many_accounts_from_one_client_is_stopped(platform):
    client = fresh_client()
    codes = [_login(platform, f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password1", client).status_code for _ in range(52)]
    assert codes[:50] == [401] * 50 and codes[50:] == [429, 429], codes
    # another client is unaffected
    user = platform.user("bystander")
    assert _login(platform, user["email"], user["password"], fresh_client()).status_code == 200
    record("brute_force_client_attempts_before_429", codes.count(401))


def test_a_successful_sign_in_does_not_count_as_a_failure(platform):
    user = platform.user("regular")
    client = fresh_client()
    assert [_login(platform, user["email"], user["password"], client).status_code for _ in range(8)] == [200] * 8


# --------------------------------------------------------------------------- SQL injection


def test_sql_injection_in_reviews_is_stored_and_returned_literally(platform):
    before = {t: pg(platform, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("reviews.reviews", "reviews.ratings", "products.products", "auth.accounts")}
    product = platform.gateway.get("/api/products", params={"limit": 1}).json()["items"][0]["id"]
    posted = []
    for text in SQL_INJECTIONS:
        user = platform.user("sqli")
        started = time.monotonic()
        r = platform.gateway.post(f"/api/reviews/{product}", headers=user["headers"], json={"rating": 3, "title": text[:120], "body": text})
        assert r.status_code == 201, r.text
        assert time.monotonic() - started < 3, "a pg_sleep ran"
        posted.append(r.json()["id"])
    listed = platform.gateway.get(f"/api/reviews/{product}", params={"limit": 100}).json()["reviews"]
    by_id = {rv["id"]: rv for rv in listed}
    for rid, text in zip(posted, SQL_INJECTIONS):
        assert by_id[rid]["body"] == text and by_id[rid]["title"] == text[:120]
    after = {t: pg(platform, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in before}
    assert after["reviews.reviews"] == before["reviews.reviews"] + len(SQL_INJECTIONS)
    assert after["products.products"] == before["products.products"] and after["reviews.ratings"] >= 1
    # injection in the path and in the ratings query is refused as bad input, naming the parameter
    assert problem(platform.gateway.get("/api/reviews/x' OR '1'='1"), 422)["errors"][0]["field"] == "path.product_id"
    assert problem(platform.gateway.get("/api/ratings", params={"ids": "a','b') OR 1=1 --"}), 422)["errors"][0]["field"] == "query.ids"
    record("sql_injection_strings_stored_literally", len(SQL_INJECTIONS))


def test_sql_injection_in_search_is_only_text(platform):
    catalogue = platform.gateway.get("/api/products", params={"limit": 100}).json()["total"]
    for text in SQL_INJECTIONS:
        r = platform.gateway.get("/api/search", params={"q": text})
        assert r.status_code == 200, r.text
        assert r.json()["query"] == text
        r = platform.gateway.get("/api/search", params={"category": text[:40]})
        assert r.status_code == 200 and r.json()["total"] == 0, r.text  # a filter that matches nothing, not everything
    assert platform.gateway.get("/api/products", params={"limit": 100}).json()["total"] == catalogue
    assert pg(platform, "SELECT count(*) AS n FROM products.products")[0]["n"] == catalogue
    # a profile name is stored literally too
    user = platform.user("sqlname")
    name = "Robert'); DROP TABLE profiles;--"
    assert platform.gateway.put("/api/users/me", headers=user["headers"], json={"name": name}).json()["name"] == name
    assert pg(platform, "SELECT name FROM users.profiles WHERE id = $1", uuid.UUID(user["id"]))[0]["name"] == name
    record("sql_injection_strings_searched", len(SQL_INJECTIONS))


# --------------------------------------------------------------------------- oversized bodies


def _chunks(total: int):
    sent = 0
    while sent < total:
        yield b" " * 65536
        sent += 65536


def test_oversized_bodies_are_refused_with_413_at_the_gateway_and_every_service(platform):
    limit = Settings(service="auth").max_body_bytes
    user = platform.user("big")
    refused = 0
    # at the gateway, declared and streamed (no Content-Length)
    for body in (lambda: b" " * (limit + 1), lambda: _chunks(limit + 65536)):
        for path, headers in (("/api/auth/login", {}), ("/api/reviews/tide-speaker", user["headers"]), ("/api/cart/items", user["headers"])):
            problem(platform.gateway.post(path, headers={**headers, "content-type": "application/json"}, content=body()), 413)
            refused += 1
    # at every service directly, on a route that reads a body where it has one
    posts = {"auth": "/auth/login", "users": "/users", "cart": "/cart/items", "orders": "/orders/checkout",
             "payments": "/payments/authorize", "products": "/products/prices", "reviews": "/reviews/tide-speaker"}
    for service in (s.name for s in platform.model.services if local.implemented(s.name)):
        path = posts.get(service, "/healthz-not-a-route")
        headers = {"content-type": "application/json", "X-User-Id": user["id"]}
        problem(platform.client(service).post(path, headers=headers, content=b" " * (limit + 1)), 413)
        refused += 1
        if service in posts:
            problem(platform.client(service).post(path, headers=headers, content=_chunks(limit + 65536)), 413)
            refused += 1
    # a body just under the limit is read and judged on its content
    assert platform.gateway.post("/api/auth/login", headers={"content-type": "application/json"}, content=b" " * (limit - 10)).status_code == 400
    record("oversized_bodies_refused", refused)


# --------------------------------------------------------------------------- secrets in logs


def test_no_secret_password_or_token_appears_in_any_log_after_a_full_run(platform):
    user = platform.user("secretive")
    product = platform.gateway.get("/api/products", params={"limit": 1}).json()["items"][0]["id"]
    assert platform.gateway.post("/api/cart/items", headers=user["headers"], json={"product_id": product, "quantity": 1}).status_code == 201
    r = platform.gateway.post("/api/orders/checkout", headers={**user["headers"], "Idempotency-Key": uuid.uuid4().hex},
                              json={"card_number": CARD_OK})
    assert r.status_code == 201, r.text
    # failures log too: a wrong password, a bad token, a declined card
    platform.gateway.post("/api/auth/login", json={"email": user["email"], "password": "wrong " + user["password"]})
    platform.gateway.get("/api/cart", headers={"Authorization": f"Bearer {user['token']}x"})
    time.sleep(1.0)  # let the workers log their effects
    identity = Settings(service="auth").identity_secret.get_secret_value()
    secrets = {"JWT secret": SECRET, "service identity secret": identity, "password": user["password"],
               "access token": user["token"], "access token signature": user["token"].split(".")[2], "card number": CARD_OK}
    logs = sorted(platform.run.run_dir.glob("*.log"))
    assert len(logs) >= 15, logs
    text = {p.name: p.read_text(errors="replace") for p in logs}
    assert sum(len(t) for t in text.values()) > 10_000, "the logs are too short to prove anything"
    leaks = [(name, what) for name, t in text.items() for what, secret in secrets.items() if secret in t]
    assert not leaks, leaks
    # no JWT of any kind (access or service identity token) is logged
    jwts = [name for name, t in text.items() if jwt_like(t)]
    assert not jwts, jwts
    record("logs_scanned", len(logs))
    record("log_bytes_scanned", sum(len(t) for t in text.values()))
    record("secrets_found_in_logs", len(leaks) + len(jwts))


def jwt_like(text: str) -> bool:
    import re

    return re.search(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", text) is not None
