"""Register, log in, verify, and who-am-I."""

from __future__ import annotations

import asyncio
import ctypes
import uuid
from typing import Annotated

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, EmailStr, Field

from services.common.problems import Problem

from .. import tokens
from ..runtime import runtime

router = APIRouter()
# OWASP's minimum argon2id profile: 19 MiB, 2 iterations, 1 lane.
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
DUMMY_HASH = hasher.hash("timing-equaliser-for-unknown-accounts")
# Failed sign-ins tolerated per window: few per account (guessing one password), more per client address
# (many shoppers can share one address; credential stuffing across accounts still stops).
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_CLIENT = 50
FAILURE_WINDOW = 900


class Registration(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")


class Credentials(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=128)


class TokenBody(BaseModel):
    token: str = Field(min_length=10, max_length=4096)


def _release_large_allocations() -> None:
    """Footprint (bench/load.py): each argon2 hash mallocs 19 MiB. glibc raises its mmap threshold after the first
    free, so later hashes come from per-thread arenas that stay resident (auth measured ~75 MiB above every
    other service; 60 hashes on 6 threads: 128 MiB RSS, 14 MiB with this). A fixed 1 MiB threshold keeps such
    buffers mmapped, so they go back to the kernel when freed."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


_release_large_allocations()


async def _hash(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, hasher.hash, password)


async def _verify(stored: str, password: str) -> bool:
    def check() -> bool:
        try:
            return hasher.verify(stored, password)
        except (VerifyMismatchError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(None, check)


@router.post("/auth/register", status_code=201, summary="Register a customer")
async def register(body: Registration) -> dict:
    email = body.email.lower()
    user_id = uuid.uuid4()
    password_hash = await _hash(body.password)
    async with runtime.require_db().acquire() as conn:
        inserted = await conn.fetchval(
            "INSERT INTO accounts (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING RETURNING id",
            user_id, email, password_hash,
        )
    if inserted is None:
        raise Problem(409, "An account with this email already exists.", title="Email taken", field="email")
    try:
        resp = await runtime.peers("users").post("/users", json={"id": str(user_id), "email": email, "name": body.name})
        resp.expect(200, 201)
    except Exception:
        # compensation: no account without a profile
        async with runtime.require_db().acquire() as conn:
            await conn.execute("DELETE FROM accounts WHERE id = $1", user_id)
        raise
    return {"id": str(user_id), "email": email, "name": body.name}


def _client(request: Request) -> str:
    forwarded = request.headers.get("x-forwarded-for", "")
    return forwarded.split(",")[0].strip() or (request.client.host if request.client else "unknown")


@router.post("/auth/login", summary="Exchange credentials for an access token")
async def login(body: Credentials, request: Request) -> dict:
    """Each attempt takes a slot in Redis (per account and per client) before the password is checked, so
    concurrent guesses cannot slip past the limit; a successful sign-in gives its slots back."""
    email = body.email.lower()
    redis = runtime.require_redis()
    keys = [runtime.identity.key("fail", "email", email), runtime.identity.key("fail", "client", _client(request))]
    async with redis.pipeline(transaction=True) as pipe:
        for k in keys:
            pipe.incr(k).expire(k, FAILURE_WINDOW)
        counts = (await pipe.execute())[0::2]
    if counts[0] > MAX_FAILURES_PER_ACCOUNT or counts[1] > MAX_FAILURES_PER_CLIENT:
        retry = max(max([await redis.ttl(k) for k in keys]), 1)
        raise Problem(429, "Too many failed sign-in attempts; wait before trying again.", title="Too many attempts",
                      retry_after=retry, headers={"Retry-After": str(retry)})
    async with runtime.require_db().acquire() as conn:
        row = await conn.fetchrow("SELECT id, password_hash FROM accounts WHERE email = $1 AND deleted_at IS NULL", email)
    ok = await _verify(row["password_hash"] if row else DUMMY_HASH, body.password)
    if not (row and ok):
        raise Problem(401, "Email or password is wrong.", title="Sign-in failed")
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.delete(keys[0]).decr(keys[1]).execute()
    token, exp = tokens.issue(runtime.settings, str(row["id"]), email)
    return {"access_token": token, "token_type": "bearer", "expires_in": runtime.settings.jwt_ttl_seconds, "expires_at": exp}


async def _claims(token: str) -> dict:
    try:
        claims = tokens.decode(runtime.settings, token)
    except jwt.ExpiredSignatureError:
        raise Problem(401, "The token has expired.", title="Invalid token", reason="expired") from None
    except jwt.InvalidAudienceError:
        raise Problem(401, "The token is for another audience.", title="Invalid token", reason="audience") from None
    except jwt.InvalidIssuerError:
        raise Problem(401, "The token comes from another issuer.", title="Invalid token", reason="issuer") from None
    except jwt.InvalidSignatureError:
        raise Problem(401, "The token's signature does not verify.", title="Invalid token", reason="signature") from None
    except jwt.InvalidTokenError as exc:
        raise Problem(401, f"The token is not valid: {exc}.", title="Invalid token", reason="malformed") from None
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Problem(401, "The token names no valid user.", title="Invalid token", reason="subject") from None
    async with runtime.require_db().acquire() as conn:
        alive = await conn.fetchval("SELECT deleted_at IS NULL FROM accounts WHERE id = $1", user_id)
    if not alive:
        raise Problem(401, "The token's account no longer exists.", title="Invalid token", reason="deleted")
    return claims


@router.post("/auth/verify", summary="Verify a token and return its claims")
async def verify(body: TokenBody) -> dict:
    return await _claims(body.token)


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Problem(401, "Send the access token as `Authorization: Bearer <token>`.", title="Unauthorized")
    return authorization[7:].strip()


@router.get("/auth/me", summary="Claims of the presented token")
async def me(authorization: Annotated[str | None, Header()] = None) -> dict:
    return await _claims(_bearer(authorization))


@router.delete("/auth/me", status_code=204, summary="Delete the caller's account; its tokens stop working")
async def delete_me(authorization: Annotated[str | None, Header()] = None) -> None:
    claims = await _claims(_bearer(authorization))
    async with runtime.require_db().acquire() as conn:
        await conn.execute("UPDATE accounts SET deleted_at = now() WHERE id = $1", uuid.UUID(claims["sub"]))
