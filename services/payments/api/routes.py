"""Authorise, void, capture and read payments. Every write is idempotent."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from services.common.problems import Problem

from ..cards import DECLINE_MESSAGES, decide, luhn_ok
from ..runtime import runtime

router = APIRouter()
PaymentId = Annotated[uuid.UUID, Path(description="Payment id")]


class Authorization(BaseModel):
    amount_minor: int = Field(gt=0, le=100_000_000, description="Amount in minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    card_number: str = Field(description="Card number, digits only (spaces allowed)")
    reference: str | None = Field(default=None, max_length=100, description="Caller's reference, e.g. the checkout key")

    @field_validator("card_number")
    @classmethod
    def _card(cls, v: str) -> str:
        digits = v.replace(" ", "").replace("-", "")
        if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_ok(digits):
            raise ValueError("not a valid card number")
        return digits


def _view(row: asyncpg.Record) -> dict:
    return {
        "payment_id": str(row["id"]),
        "status": row["status"],
        "amount_minor": row["amount_minor"],
        "currency": row["currency"].strip(),
        "card_last4": row["card_last4"],
        "decline_code": row["decline_code"],
        "reference": row["reference"],
    }


@router.post("/payments/authorize", status_code=201, summary="Authorise an amount on a card (Idempotency-Key)")
async def authorize(body: Authorization, idempotency_key: Annotated[str, Header(min_length=8, max_length=200)]) -> JSONResponse:
    """Declined cards answer 402 with a code. Repeating a key returns the first answer; reusing it for a
    different request is a 409."""
    digest = hashlib.sha256(f"{body.amount_minor}|{body.currency}|{body.card_number}".encode()).hexdigest()
    await runtime.faults.hit("payments.authorize")  # the card network: slow or failing in a chaos window
    decline = decide(body.card_number)
    pool = runtime.require_db()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """INSERT INTO payments (id, idempotency_key, request_hash, amount_minor, currency, card_last4, status, decline_code, reference)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
               ON CONFLICT (idempotency_key) DO NOTHING RETURNING *""",
            uuid.uuid4(), idempotency_key, digest, body.amount_minor, body.currency, body.card_number[-4:],
            "declined" if decline else "authorized", decline, body.reference,
        )
        replay = row is None
        if replay:
            row = await conn.fetchrow("SELECT * FROM payments WHERE idempotency_key = $1", idempotency_key)
            if row["request_hash"] != digest:
                raise Problem(409, "This Idempotency-Key was already used for a different payment.", title="Idempotency key reused")
    headers = {"Idempotent-Replayed": "true"} if replay else {}
    if row["status"] == "declined":
        code = row["decline_code"]
        raise Problem(402, DECLINE_MESSAGES.get(code, "The card was declined."), title="Payment declined",
                      decline_code=code, payment_id=str(row["id"]))
    return JSONResponse(_view(row), status_code=200 if replay else 201, headers=headers)


async def _transition(payment_id: uuid.UUID, target: str, allowed_from: set[str]) -> dict:
    async with runtime.require_db().acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT * FROM payments WHERE id = $1 FOR UPDATE", payment_id)
        if row is None:
            raise Problem(404, f"No payment {payment_id}.", title="Unknown payment")
        if row["status"] == target:
            return _view(row)  # idempotent repeat
        if row["status"] not in allowed_from:
            raise Problem(409, f"A {row['status']} payment cannot be {target}.", title="Invalid payment state", status_now=row["status"])
        row = await conn.fetchrow("UPDATE payments SET status = $2, updated_at = now() WHERE id = $1 RETURNING *", payment_id, target)
    return _view(row)


@router.post("/payments/{payment_id}/void", summary="Void an authorisation")
async def void(payment_id: PaymentId) -> dict:
    return await _transition(payment_id, "voided", {"authorized"})


@router.post("/payments/{payment_id}/capture", summary="Capture an authorisation")
async def capture(payment_id: PaymentId) -> dict:
    return await _transition(payment_id, "captured", {"authorized"})


@router.get("/payments/by-reference/{reference}", summary="The payment made for a caller's reference (compensation lookup)")
async def by_reference(reference: Annotated[str, Path(max_length=100)]) -> dict:
    async with runtime.require_db().acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM payments WHERE reference = $1 ORDER BY created_at LIMIT 1", reference)
    if row is None:
        raise Problem(404, f"No payment for reference {reference!r}.", title="Unknown payment")
    return _view(row)


@router.get("/payments/{payment_id}", summary="One payment")
async def get_payment(payment_id: PaymentId) -> dict:
    async with runtime.require_db().acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM payments WHERE id = $1", payment_id)
    if row is None:
        raise Problem(404, f"No payment {payment_id}.", title="Unknown payment")
    return _view(row)


