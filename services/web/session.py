"""Sign-in state: the access token lives in an HttpOnly cookie set by web and travels to the BFF as
`Authorization: Bearer`. Page scripts never see it; the claims shown on pages are decoded here."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import jwt
import orjson
from fastapi import Request
from fastapi.responses import Response

COOKIE = "netshop_session"
FLASH = "netshop_flash"


@dataclass
class Session:
    token: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    @property
    def email(self) -> str | None:
        return self.claims.get("email")

    @property
    def expires_in(self) -> int:
        return max(0, int(self.claims.get("exp", 0) - time.time()))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def parts(self) -> dict[str, Any]:
        """The token's header and claims as JSON, and its signature's size (never the signature itself)."""
        if not self.token:
            return {}
        header_b64, _, signature_b64 = self.token.split(".")
        return {"header": jwt.get_unverified_header(self.token), "claims": self.claims,
                "signature_bytes": len(base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))),
                "header_b64_chars": len(header_b64)}


def session_of(request: Request) -> Session:
    """The visitor's session; an unreadable or expired token counts as signed out."""
    token = request.cookies.get(COOKIE)
    if not token:
        return Session()
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_aud": False})
    except jwt.InvalidTokenError:
        return Session()
    if claims.get("exp", 0) <= time.time():
        return Session()
    return Session(token=token, claims=claims)


def _secure(request: Request) -> bool:
    return request.headers.get("x-forwarded-proto", request.url.scheme) == "https"


def sign_in(response: Response, request: Request, token: str, expires_in: int) -> None:
    response.set_cookie(COOKIE, token, max_age=expires_in, httponly=True, samesite="lax", secure=_secure(request), path="/")


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def flash(response: Response, kind: str, message: str) -> None:
    """A one-shot message shown on the next page (after a redirect)."""
    response.set_cookie(FLASH, quote(orjson.dumps({"kind": kind, "message": message}).decode()), max_age=60,
                        httponly=True, samesite="lax", path="/")


def take_flash(request: Request) -> dict | None:
    raw = request.cookies.get(FLASH)
    if not raw:
        return None
    try:
        value = orjson.loads(unquote(raw))
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and {"kind", "message"} <= value.keys() else None
