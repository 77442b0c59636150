"""Access tokens: HS256 JWTs with sub, email, iat, exp, iss, aud and jti. Only HS256 is ever accepted."""

from __future__ import annotations

import time
import uuid

import jwt

from services.common.settings import Settings

ALGORITHM = "HS256"
REQUIRED = ["sub", "exp", "iat", "iss", "aud"]


def issue(settings: Settings, user_id: str, email: str) -> tuple[str, int]:
    now = int(time.time())
    exp = now + settings.jwt_ttl_seconds
    claims = {"sub": user_id, "email": email, "iat": now, "nbf": now, "exp": exp, "iss": settings.jwt_issuer,
              "aud": settings.jwt_audience, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM), exp


def decode(settings: Settings, token: str) -> dict:
    """Claims of a valid token, or jwt.InvalidTokenError: alg=none, RS/HS confusion, bad signature,
    expiry, wrong audience or issuer are all rejected."""
    header = jwt.get_unverified_header(token)
    if header.get("alg") != ALGORITHM:
        raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r} is not accepted")
    return jwt.decode(
        token, settings.jwt_secret.get_secret_value(), algorithms=[ALGORITHM], audience=settings.jwt_audience,
        issuer=settings.jwt_issuer, options={"require": REQUIRED}, leeway=5,
    )
