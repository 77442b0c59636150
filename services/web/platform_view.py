"""The platform view: a JWT sign-in that shows the token's claims and expiry, the catalogue of every
service and datastore from the model, and one card per capability linking to its artefacts and docs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request

from model.schema import NetShopModel

from .console import zone_index
from .runtime import bff_json, gather, optional, render, runtime, same_origin
from .session import Session, session_of
from .shop import _login, _signed_in

router = APIRouter()
CLAIM_NOTES = {
    "sub": "Subject: the account id",
    "email": "The account's email",
    "iat": "Issued at",
    "nbf": "Not valid before",
    "exp": "Expires at",
    "iss": "Issuer: the auth service",
    "aud": "Audience: who may accept it",
    "jti": "Token id",
}
TIME_CLAIMS = ("iat", "nbf", "exp")


def repository_link(model: NetShopModel, path: str) -> str:
    """A link to a file or folder of the platform's repository (model.platform.repository)."""
    base = model.platform.repository.removesuffix(".git").rstrip("/")
    kind = "blob" if "." in path.rsplit("/", 1)[-1] else "tree"
    return f"{base}/{kind}/main/{path}"


def catalogue(model: NetShopModel, state: dict | None) -> list[dict[str, Any]]:
    """Every workload of the model with tier, datastores, zone spread and port; live zones when known."""
    live = {s["name"]: s for s in (state or {}).get("services", [])}
    zones = zone_index(model)
    all_zones = [z.name for z in model.platform.zones]
    rows = []
    for s in model.services:
        pods = live.get(s.name, {}).get("pods", [])
        rows.append({
            "name": s.name, "kind": "service", "tier": s.tier, "tier_title": model.tier_by_name[s.tier].title, "role": s.role,
            "port": s.port, "datastores": [d.name for d in model.datastores_of(s.name)],
            "spread": f"max skew {s.zone_spread.max_skew} over {len(all_zones)} zones ({s.zone_spread.when_unsatisfiable})",
            "replicas": f"{s.scaling.min}–{s.scaling.max}",
            "live_zones": sorted({(p.get("zone"), zones.get(p.get("zone"), -1)) for p in pods if p.get("zone")}),
            "routes": len(s.routes),
        })
    for d in model.datastores:
        tier = model.export()["datastores"][model.datastores.index(d)]["tier"]
        rows.append({
            "name": d.name, "kind": "datastore", "tier": tier, "tier_title": model.tier_by_name[tier].title if tier in model.tier_by_name else tier,
            "role": d.role, "port": d.port, "datastores": [], "clients": model.clients_of(d.name),
            "spread": f"max skew 1 over {len(all_zones)} zones (DoNotSchedule)", "replicas": d.kind, "live_zones": [], "routes": 0,
        })
    return rows


def capabilities(model: NetShopModel) -> list[dict[str, Any]]:
    return [{"id": c.id, "title": c.title, "summary": c.summary,
             "artifacts": [{"path": a, "url": repository_link(model, a)} for a in c.artifacts],
             "docs": repository_link(model, "docs")} for c in model.capabilities]


def token_view(session: Session, verified: dict | None) -> dict[str, Any] | None:
    if not session.signed_in:
        return None
    parts = session.parts()
    claims = []
    for key, value in parts["claims"].items():
        shown = value
        if key in TIME_CLAIMS and isinstance(value, int | float):
            shown = f"{value} ({datetime.fromtimestamp(value, UTC).strftime('%Y-%m-%d %H:%M:%S UTC')})"
        claims.append({"name": key, "value": shown, "note": CLAIM_NOTES.get(key, "")})
    return {"header": parts["header"], "claims": claims, "signature_bytes": parts["signature_bytes"], "exp": session.claims.get("exp"),
            "expires_in": session.expires_in, "verified": verified}


@router.get("/platform", summary="Platform view with JWT sign-in and the service catalogue")
async def platform(request: Request, session: Annotated[Session, Depends(session_of)], error: str | None = None):
    model = runtime.identity.model
    verified_call = bff_json("GET", "/api/auth/me", request, session) if session.signed_in else None
    state, verified = await gather(optional(bff_json("GET", "/bff/platform", request)),
                                   optional(verified_call) if verified_call else _none())
    return render(request, "platform.html", {
        "title": "Platform", "model": model, "catalogue": catalogue(model, state), "capabilities": capabilities(model),
        "token": token_view(session, verified), "source": (state or {}).get("source"), "error": None,
    }, session=session)


async def _none() -> None:
    return None


@router.post("/platform/token", dependencies=[Depends(same_origin)], summary="Sign in and show the token's claims")
async def platform_signin(request: Request, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = ""):
    token, errors = await _login(request, email.strip(), password)
    if token:
        return _signed_in(request, token, "/platform#token", "Signed in: here is your access token, decoded.")
    model = runtime.identity.model
    state = await optional(bff_json("GET", "/bff/platform", request))
    return render(request, "platform.html", {
        "title": "Platform", "model": model, "catalogue": catalogue(model, state), "capabilities": capabilities(model),
        "token": None, "source": (state or {}).get("source"), "error": (errors or {}).get("signin"), "email": email,
    }, session=Session(), status=401)
