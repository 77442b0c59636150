"""Fuzzing: schemathesis generates valid and invalid requests from every service's own OpenAPI, and from
the gateway's public API (each public route of the model, as its owner documents it, under /api), and
sends them to the running platform. The bar: no 5xx, and every error is RFC 9457 problem+json whose
`status` matches the response.

`make test` runs a bounded pass (a few derandomised examples per operation and mode, each operation
capped in time); `make security` runs the `slow` pass with many more random examples per operation."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from security_record import record

from model import load_model
from netshop import local
from services.api_gateway.routing import RouteTable

pytestmark = pytest.mark.platform

MODEL = load_model()
SERVICES = [s.name for s in MODEL.services if local.implemented(s.name)]
PUBLIC = "api-gateway /api"  # the gateway's public API, composed from the model's public routes
# The fuzzer's own client address (TEST-NET-2), so its failed logins and request counts never share a
# rate-limit bucket with other tests.
FUZZ_CLIENT = "198.51.100.23"
OPS = ("/healthz", "/readyz")


@dataclass(frozen=True)
class Depth:
    examples: int
    op_seconds: float
    derandomize: bool


BOUNDED = Depth(examples=10, op_seconds=2.0, derandomize=True)
FULL = Depth(examples=100, op_seconds=20.0, derandomize=False)


@dataclass
class Finding:
    service: str
    operation: str
    status: int
    content_type: str
    request: str
    body: str

    def __str__(self) -> str:
        return f"{self.service} {self.operation} -> {self.status} {self.content_type!r}: {self.request} :: {self.body}"


@dataclass
class Tally:
    operations: int = 0
    cases: int = 0
    errors_4xx: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def _content_type(resp) -> str:
    value = resp.headers.get("content-type") or resp.headers.get("Content-Type") or ""
    value = value[0] if isinstance(value, list) else value  # schemathesis keeps every value of a header
    return value.split(";")[0].strip()


def verdict(service: str, path: str, resp) -> str | None:
    """Why a response breaks the bar, or None. The web service answers its browser pages with HTML error
    pages; everything else, and web's own /api proxy, must answer errors as problem+json."""
    if resp.status_code >= 500:
        return "server error"
    if resp.status_code < 400:
        return None
    ctype = _content_type(resp)
    if service == "web" and not path.startswith("/api/") and ctype == "text/html":
        return None
    if ctype != "application/problem+json":
        return "error is not problem+json"
    try:
        body = resp.json()
    except ValueError:
        return "problem+json body is not JSON"
    if not isinstance(body, dict) or body.get("status") != resp.status_code or not body.get("title"):
        return "problem body lacks a matching status or a title"
    return None


def fuzz(service: str, schema, base_url: str, headers_for, depth: Depth) -> Tally:
    tally = Tally()
    session = requests.Session()
    for result in schema.get_all_operations():
        op = result.ok()
        tally.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            deadline = time.monotonic() + depth.op_seconds

            @settings(max_examples=depth.examples, deadline=None, database=None, derandomize=depth.derandomize,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
                      verbosity=Verbosity.quiet, print_blob=False)
            @given(op.as_strategy(generation_mode=mode))
            def run(case) -> None:
                if time.monotonic() > deadline:
                    return
                resp = case.call(base_url=base_url, session=session, headers=headers_for(op), timeout=20)
                tally.cases += 1
                tally.statuses[resp.status_code] = tally.statuses.get(resp.status_code, 0) + 1
                if 400 <= resp.status_code < 500:
                    tally.errors_4xx += 1
                why = verdict(service, case.formatted_path, resp)
                if why:
                    sent = {"path": case.formatted_path, "query": case.query, "body": case.body}
                    tally.findings.append(Finding(service, op.label, resp.status_code, _content_type(resp),
                                                  f"{why}; sent {json.dumps(sent, default=str)[:300]}", resp.text[:300]))

            try:
                run()
            except Unsatisfiable:
                pass  # an operation without inputs has no invalid variant
    return tally


# --------------------------------------------------------------------------- the gateway's public API


def public_api(platform) -> dict:
    """An OpenAPI document of the gateway's public surface: every public route the gateway routes, as the
    owning service documents it, under /api. Schema names are prefixed with their service."""
    table = RouteTable(MODEL, "api-gateway")
    doc: dict = {"openapi": "3.1.0", "info": {"title": "NetShop public API", "version": MODEL.platform.version},
                 "paths": {}, "components": {"schemas": {}}}
    owners: dict[str, dict] = {}
    for target in table.targets:
        callee = target.callee
        if callee not in owners:
            raw = platform.client(callee).get("/openapi.json").json()
            prefix = callee.replace("-", "_") + "__"
            text = re.sub(r'"#/components/schemas/([^"]+)"', lambda m: f'"#/components/schemas/{prefix}{m.group(1)}"', json.dumps(raw))
            owners[callee] = json.loads(text)
            for name, sch in owners[callee].get("components", {}).get("schemas", {}).items():
                doc["components"]["schemas"][prefix + name] = sch
        operation = owners[callee]["paths"].get(target.route.path, {}).get(target.route.method.lower())
        assert operation is not None, f"{callee} does not document {target.route.ref}, a public route of the model"
        operation = {**operation, "operationId": f"{callee}-{operation.get('operationId', target.route.ref)}",
                     "x-netshop-auth": target.route.auth}
        doc["paths"].setdefault("/api" + target.route.path, {})[target.route.method.lower()] = operation
    return doc


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def fuzz_user(platform) -> dict:
    return platform.user("fuzzer")


def _run(platform, fuzz_user, target: str, depth: Depth) -> Tally:
    if target == PUBLIC:
        schema = schemathesis.openapi.from_dict(public_api(platform))
        base_url = platform.url("api-gateway")

        def headers_for(op) -> dict:
            headers = {"X-Forwarded-For": FUZZ_CLIENT}
            # every protected route is fuzzed signed in, except deleting the fuzzer's own account
            if op.definition.raw.get("x-netshop-auth") and not (op.method.upper() == "DELETE" and op.path == "/api/auth/me"):
                headers["Authorization"] = f"Bearer {fuzz_user['token']}"
            return headers
    else:
        schema = schemathesis.openapi.from_url(platform.url(target) + "/openapi.json")
        base_url = platform.url(target)

        def headers_for(op) -> dict:
            # what the gateway forwards for a signed-in shopper, so protected routes are reached too
            return {"X-Forwarded-For": FUZZ_CLIENT, "X-User-Id": fuzz_user["id"], "X-User-Email": fuzz_user["email"],
                    "X-Request-Id": uuid.uuid4().hex}
    started = time.monotonic()
    tally = fuzz(target, schema, base_url, headers_for, depth)
    label = "full" if depth is FULL else "bounded"
    for name, value in (("fuzz_operations", tally.operations), ("fuzz_cases", tally.cases), ("fuzz_4xx", tally.errors_4xx),
                        ("fuzz_5xx", sum(n for s, n in tally.statuses.items() if s >= 500)), ("fuzz_findings", len(tally.findings)),
                        ("fuzz_seconds", round(time.monotonic() - started, 1))):
        record(name, value, service=target, depth=label)
    return tally


@pytest.mark.parametrize("depth", [pytest.param(BOUNDED, id="bounded"), pytest.param(FULL, id="full", marks=pytest.mark.slow)])
@pytest.mark.parametrize("target", [*SERVICES, PUBLIC])
def test_fuzzed_requests_get_no_5xx_and_every_error_is_problem_json(platform, fuzz_user, target, depth):
    tally = _run(platform, fuzz_user, target, depth)
    assert tally.operations >= 2, f"{target} documents too few operations: {tally.operations}"
    assert tally.cases >= tally.operations, f"{target}: only {tally.cases} cases for {tally.operations} operations"
    assert not tally.findings, f"{len(tally.findings)} findings in {tally.cases} cases:\n" + "\n".join(map(str, tally.findings[:8]))


def test_the_public_api_document_covers_every_public_route_of_the_model(platform):
    doc = public_api(platform)
    table = RouteTable(MODEL, "api-gateway")
    assert sum(len(ops) for ops in doc["paths"].values()) == len(table.targets)
    assert all(path.startswith("/api/") for path in doc["paths"])


# --------------------------------------------------------------------------- what fuzzing found, pinned


def _fields(r) -> set[str]:
    body = r.json()
    return {e["field"] for e in body.get("errors", [])} | ({body["field"]} if "field" in body else set())


@pytest.mark.parametrize(
    ("service", "method", "path", "params", "body", "status", "field"),
    [
        # each of these answered 500 before fuzzing found it
        ("reviews", "GET", "/reviews/tide-speaker", {"offset": 2**63 + 7}, None, 422, "query.offset"),
        ("reviews", "GET", "/ratings", {"ids": "tide-speaker,\x00"}, None, 422, "query.ids"),
        ("reviews", "POST", "/reviews/tide-speaker", None, {"rating": 4, "title": "nul\x00byte"}, 422, "body.title"),
        ("users", "POST", "/users", None, {"id": str(uuid.uuid4()), "email": "a@example.com", "name": "\x00"}, 422, "body.name"),
        ("users", "PUT", "/users/me", None, {"name": "x\x00y"}, 422, "body.name"),
        ("products", "GET", "/products", {"max_price": 2**63}, None, 422, None),
    ],
)
def test_inputs_fuzzing_found_get_a_4xx_problem_naming_the_field(platform, fuzz_user, service, method, path, params, body,
                                                                  status, field):
    headers = {"X-User-Id": fuzz_user["id"], "X-User-Email": fuzz_user["email"]}
    r = platform.client(service).request(method, path, params=params, json=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    if field:
        assert field in _fields(r), r.json()
    record("fuzz_findings_pinned", 1, service=service, path=path)


def test_a_profile_for_an_email_another_profile_has_is_a_409_not_a_500(platform, fuzz_user):
    r = platform.client("users").post("/users", json={"id": str(uuid.uuid4()), "email": fuzz_user["email"], "name": "Twin"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert "body.email" in _fields(r)
    record("fuzz_findings_pinned", 1, service="users", path="/users")


def test_a_path_segment_with_an_encoded_question_mark_is_forwarded_as_data(platform, fuzz_user):
    # the gateway used to forward the decoded path, so `?` split it and the call was refused as undeclared (500)
    r = platform.gateway.put("/api/cart/items/%3F%C3%8E%09x", headers={"Authorization": f"Bearer {fuzz_user['token']}"},
                             json={"quantity": 1})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert "path.product_id" in _fields(r)
    record("fuzz_findings_pinned", 1, service="api-gateway", path="/api/cart/items/{product_id}")
