"""Service identity without a mesh: the caller signs a short-lived token naming itself and the callee;
the callee accepts it only if the model declares that edge."""

from __future__ import annotations

import time

import jwt

HEADER = "X-NetShop-Service-Token"
TTL_SECONDS = 120
ISSUER_PREFIX = "netshop-service:"


class ServiceTokens:
    """Mints tokens for this service's calls (cached per peer until close to expiry)."""

    def __init__(self, me: str, secret: str) -> None:
        self.me, self.secret = me, secret
        self._cache: dict[str, tuple[str, float]] = {}

    def for_peer(self, peer: str) -> str:
        now = time.time()
        cached = self._cache.get(peer)
        if cached and cached[1] - now > 30:
            return cached[0]
        token = jwt.encode(
            {"iss": ISSUER_PREFIX + self.me, "sub": self.me, "aud": peer, "iat": int(now), "exp": int(now) + TTL_SECONDS},
            self.secret,
            algorithm="HS256",
        )
        self._cache[peer] = (token, now + TTL_SECONDS)
        return token


def verify(token: str, me: str, secret: str) -> str:
    """The calling service's name, or jwt.InvalidTokenError."""
    claims = jwt.decode(
        token, secret, algorithms=["HS256"], audience=me, options={"require": ["iss", "sub", "aud", "exp", "iat"]}
    )
    if claims["iss"] != ISSUER_PREFIX + claims["sub"]:
        raise jwt.InvalidIssuerError("issuer does not match subject")
    return str(claims["sub"])
