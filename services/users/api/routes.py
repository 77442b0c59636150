"""Profiles and the notification inbox."""

from __future__ import annotations

import uuid
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, EmailStr, Field

from services.common.app import current_user
from services.common.problems import Problem

from ..runtime import runtime

router = APIRouter()
UserId = Annotated[uuid.UUID, Path(description="User id")]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL; refuse it as bad input naming the field


class NewProfile(BaseModel):
    id: uuid.UUID
    email: EmailStr
    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)


class ProfileUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)


def _view(row: asyncpg.Record) -> dict:
    return {"id": str(row["id"]), "email": row["email"], "name": row["name"], "created_at": row["created_at"].isoformat()}


@router.post("/users", status_code=201, summary="Create a profile for a new account")
async def create(profile: NewProfile) -> dict:
    try:
        async with runtime.require_db().acquire() as conn:
            row = await conn.fetchrow(
                """INSERT INTO profiles (id, email, name) VALUES ($1, $2, $3)
                   ON CONFLICT (id) DO UPDATE SET updated_at = profiles.updated_at RETURNING *""",
                profile.id, profile.email.lower(), profile.name,
            )
    except asyncpg.UniqueViolationError:
        raise Problem(409, "Another profile already has this email.", title="Email taken", field="body.email") from None
    return _view(row)


async def _get(user_id: uuid.UUID) -> dict:
    async with runtime.require_db().acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM profiles WHERE id = $1", user_id)
    if row is None:
        raise Problem(404, f"No user {user_id}.", title="Unknown user")
    return _view(row)


def _me(user: str = Depends(current_user)) -> uuid.UUID:
    try:
        return uuid.UUID(user)
    except ValueError:
        raise Problem(401, "The access token names no valid user.", title="Unauthorized") from None


@router.get("/users/me", summary="The caller's profile")
async def me(user_id: uuid.UUID = Depends(_me)) -> dict:
    return await _get(user_id)


@router.put("/users/me", summary="Update the caller's profile")
async def update_me(update: ProfileUpdate, user_id: uuid.UUID = Depends(_me)) -> dict:
    async with runtime.require_db().acquire() as conn:
        row = await conn.fetchrow("UPDATE profiles SET name = $2, updated_at = now() WHERE id = $1 RETURNING *", user_id, update.name)
    if row is None:
        raise Problem(404, f"No user {user_id}.", title="Unknown user")
    return _view(row)


@router.get("/users/me/notifications", summary="Notifications sent to the caller")
async def notifications(user_id: uuid.UUID = Depends(_me)) -> dict:
    """Read from `notifications.inbox`, the view the notifications worker publishes for its readers."""
    async with runtime.require_db().acquire() as conn:
        try:
            rows = await conn.fetch(
                "SELECT order_id, subject, body, created_at FROM notifications.inbox WHERE user_id = $1 ORDER BY created_at DESC LIMIT 50",
                str(user_id),
            )
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            rows = []
    return {"items": [{"order_id": r["order_id"], "subject": r["subject"], "body": r["body"], "created_at": r["created_at"].isoformat()} for r in rows]}


@router.get("/users/{user_id}", summary="A profile by id (saga validation)")
async def get_user(user_id: UserId) -> dict:
    return await _get(user_id)
