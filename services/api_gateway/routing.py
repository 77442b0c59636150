"""The gateway's routing table, built from the model: every public route of every callee it has an edge to."""

from __future__ import annotations

from dataclasses import dataclass

from model.schema import NetShopModel, Route


@dataclass(frozen=True)
class Target:
    route: Route
    callee: str

    @property
    def specificity(self) -> tuple[int, int]:
        """Fewer placeholders and longer literal text win (`/products/categories` beats `/products/{id}`)."""
        return (self.route.path.count("{"), -len(self.route.path))


class RouteTable:
    def __init__(self, model: NetShopModel, gateway: str) -> None:
        self.targets = sorted(
            (Target(r, e.callee) for e in model.sync_edges if e.caller == gateway for r in model.routes_of_edge(e) if r.public),
            key=lambda t: t.specificity,
        )
        self.verifier = next(
            (e.callee for e in model.sync_edges if e.caller == gateway for r in model.routes_of_edge(e) if r.path == "/auth/verify"),
            None,
        )

    def match(self, method: str, path: str) -> tuple[Target | None, list[str]]:
        """The target for a call, or None plus the methods the path does allow (for a 405)."""
        allowed: list[str] = []
        for t in self.targets:
            if t.route.matches(method, path):
                return t, []
            if t.route.matches(t.route.method, path):
                allowed.append(t.route.method)
        return None, sorted(set(allowed))
