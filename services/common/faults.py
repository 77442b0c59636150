"""Fault points for tests and chaos runs: named places where a service can be told to fail or slow down.

Points are generated from the model (`call:<caller>-><callee>` per edge, `consume:<queue>` per
subscription) plus a few business steps (`orders.persist`). They are inert unless the service runs
with NETSHOP_FAULT_INJECTION=true, which exposes `/_ops/faults`.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from pydantic import BaseModel, Field

from model.schema import NetShopModel


class FaultInjected(Exception):
    """Raised at a fault point that is set to fail."""


class FaultSpec(BaseModel):
    point: str = Field(description="Fault point id, e.g. `orders.persist` or `call:orders->payments`.")
    mode: str = Field(pattern="^(fail|delay)$", description="`fail` raises, `delay` sleeps.")
    rate: float = Field(default=1.0, ge=0, le=1, description="Probability that the fault triggers on a pass.")
    delay_ms: int = Field(default=0, ge=0, le=60_000, description="Sleep for `delay` mode.")
    remaining: int | None = Field(default=None, ge=1, description="Trigger at most this many times.")


def points(model: NetShopModel, service: str) -> list[str]:
    """Every fault point a service has, derived from its edges and subscriptions."""
    pts = [f"call:{e.caller}->{e.callee}" for e in model.sync_edges if e.caller == service]
    pts += [f"consume:{s.queue}" for _, s in model.subscriptions_of(service)]
    pts += [f"publish:{e.name}" for e in model.events_produced_by(service)]
    pts += [f"{service}.{step}" for step in BUSINESS_POINTS.get(service, ())]
    return sorted(pts)


BUSINESS_POINTS = {"orders": ("persist",), "payments": ("authorize",)}


@dataclass
class Faults:
    enabled: bool
    known: list[str]

    def __post_init__(self) -> None:
        self.active: dict[str, FaultSpec] = {}

    def set(self, spec: FaultSpec) -> None:
        if spec.point not in self.known:
            raise KeyError(spec.point)
        self.active[spec.point] = spec

    def clear(self, point: str | None = None) -> None:
        if point is None:
            self.active.clear()
        else:
            self.active.pop(point, None)

    async def hit(self, point: str) -> None:
        """Pass a fault point: fail or delay if it is armed."""
        if not self.enabled or not self.active:
            return
        spec = self.active.get(point)
        if spec is None or random.random() >= spec.rate:
            return
        if spec.remaining is not None:
            spec.remaining -= 1
            if spec.remaining <= 0:
                self.active.pop(point, None)
        if spec.mode == "delay":
            await asyncio.sleep(spec.delay_ms / 1000)
        else:
            raise FaultInjected(f"fault injected at {point}")
