"""Checkout and order history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.common.app import current_user
from services.common.problems import Problem

from .. import saga, views
from ..runtime import runtime

router = APIRouter()


class Checkout(BaseModel):
    card_number: str = Field(min_length=12, max_length=23, pattern=r"^[0-9 -]+$",
                             description="Card number; test cards: 4242 4242 4242 4242 approves, 4000 0000 0000 0002 declines")


def _user(user: str = Depends(current_user)) -> uuid.UUID:
    try:
        return uuid.UUID(user)
    except ValueError:
        raise Problem(401, "The access token names no valid user.", title="Unauthorized") from None


@router.post("/orders/checkout", status_code=201, summary="Run the checkout saga (needs an Idempotency-Key header)")
async def checkout(
    body: Checkout,
    idempotency_key: Annotated[str, Header(min_length=8, max_length=200, description="Unique per checkout attempt")],
    user_id: uuid.UUID = Depends(_user),
) -> JSONResponse:
    order, replayed = await saga.run(user_id, idempotency_key, body.card_number.replace(" ", "").replace("-", ""))
    return JSONResponse({"order_id": order["order_id"], "status": order["status"], **order},
                        status_code=200 if replayed else 201, headers={"Idempotent-Replayed": "true"} if replayed else {})


@router.get("/orders", summary="The caller's orders")
async def orders(user_id: uuid.UUID = Depends(_user), limit: Annotated[int, Query(ge=1, le=100)] = 20,
                 offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return await views.list_orders(runtime.require_db(), user_id, limit, offset)


@router.get("/orders/{order_id}", summary="One order with its saga steps")
async def order(order_id: Annotated[uuid.UUID, Path()], user_id: uuid.UUID = Depends(_user)) -> dict:
    return await views.order_view(runtime.require_db(), order_id, user_id)
