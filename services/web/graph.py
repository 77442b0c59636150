"""The console's service graph, laid out from the model: one row per tier (top to bottom in the
model's order), nodes ordered within a row by the barycentre of their neighbours to cut crossings,
and one link per sync edge and per data edge (broker edges included). Pure function of the model."""

from __future__ import annotations

from dataclasses import dataclass

from model.schema import NetShopModel

NODE_W, NODE_H = 118, 46
GAP_X, ROW_GAP, PAD = 14, 120, 24


@dataclass(frozen=True)
class Node:
    name: str
    kind: str  # "service" | "datastore"
    tier: str
    role: str
    port: int
    x: float
    y: float

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2


@dataclass(frozen=True)
class Link:
    source: str
    target: str
    kind: str  # "sync" | "data"
    purpose: str
    d: str


@dataclass(frozen=True)
class Row:
    tier: str
    title: str
    y: float


@dataclass(frozen=True)
class Graph:
    nodes: list[Node]
    links: list[Link]
    rows: list[Row]
    width: float
    height: float
    node_w: int = NODE_W
    node_h: int = NODE_H

    @property
    def services(self) -> int:
        return sum(n.kind == "service" for n in self.nodes)

    @property
    def datastores(self) -> int:
        return sum(n.kind == "datastore" for n in self.nodes)


def _rows(model: NetShopModel) -> list[tuple[str, list[tuple[str, str]]]]:
    """Tier -> [(name, kind)] in model order; datastores sit in the tier the model's export gives them."""
    export = model.export()
    rows = []
    for tier in model.platform.tiers:
        members = [(s["name"], "service") for s in export["services"] if s["tier"] == tier.name]
        members += [(d["name"], "datastore") for d in export["datastores"] if d["tier"] == tier.name]
        if members:
            rows.append((tier.name, members))
    return rows


def _order(rows: list[list[str]], neighbours: dict[str, set[str]], sweeps: int = 4) -> list[list[str]]:
    """Barycentre heuristic: down and up sweeps, each row sorted by the mean position of its linked nodes."""
    rows = [list(r) for r in rows]

    def pos() -> dict[str, float]:
        return {n: (i + 0.5) / len(r) for r in rows for i, n in enumerate(r)}

    for sweep in range(sweeps):
        order = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        for i in order:
            p = pos()
            fixed = {n for j, r in enumerate(rows) if j != i for n in r}
            current = {n: k for k, n in enumerate(rows[i])}

            def key(n: str, p=p, fixed=fixed, current=current) -> tuple[float, int]:
                linked = [p[m] for m in neighbours.get(n, ()) if m in fixed]
                return (sum(linked) / len(linked) if linked else (current[n] + 0.5) / len(current), current[n])

            rows[i] = sorted(rows[i], key=key)
    return rows


def layout(model: NetShopModel) -> Graph:
    tiers = _rows(model)
    titles = {t.name: t.title for t in model.platform.tiers}
    links_raw = [(e.caller, e.callee, "sync", e.purpose) for e in model.sync_edges]
    links_raw += [(e.service, e.datastore, "data", e.purpose) for e in model.all_data_edges]
    neighbours: dict[str, set[str]] = {}
    for a, b, _, _ in links_raw:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    kinds = {name: kind for _, members in tiers for name, kind in members}
    ordered = _order([[n for n, _ in members] for _, members in tiers], neighbours)
    widest = max(len(r) for r in ordered)
    width = 2 * PAD + widest * NODE_W + (widest - 1) * GAP_X
    nodes: dict[str, Node] = {}
    rows: list[Row] = []
    for r, ((tier, _), names) in enumerate(zip(tiers, ordered, strict=True)):
        y = PAD + 22 + r * ROW_GAP
        rows.append(Row(tier, titles[tier], y))
        span = len(names) * NODE_W + (len(names) - 1) * GAP_X
        x0 = (width - span) / 2
        for i, name in enumerate(names):
            info = model.service_by_name.get(name) or model.datastore_by_name[name]
            nodes[name] = Node(name, kinds[name], tier, info.role, info.port, round(x0 + i * (NODE_W + GAP_X), 1), y)
    links = [Link(a, b, kind, purpose, _path(nodes[a], nodes[b])) for a, b, kind, purpose in links_raw if a in nodes and b in nodes]
    height = PAD + 22 + (len(tiers) - 1) * ROW_GAP + NODE_H + PAD + 30
    return Graph(list(nodes.values()), links, rows, width, height)


def _path(a: Node, b: Node) -> str:
    """A smooth curve from the caller's bottom to the callee's top, or an arc under the row for same-tier calls."""
    if a.y == b.y:
        ya = a.y + NODE_H
        dip = 26 + abs(a.cx - b.cx) * 0.12
        return f"M{a.cx:.1f},{ya:.1f} C{a.cx:.1f},{ya + dip:.1f} {b.cx:.1f},{ya + dip:.1f} {b.cx:.1f},{ya:.1f}"
    top, bottom = (a, b) if a.y < b.y else (b, a)
    y1, y2 = top.y + NODE_H, bottom.y
    mid = (y1 + y2) / 2
    d = f"M{top.cx:.1f},{y1:.1f} C{top.cx:.1f},{mid:.1f} {bottom.cx:.1f},{mid:.1f} {bottom.cx:.1f},{y2:.1f}"
    if top is b:  # keep the path's direction caller -> callee, for the trace animation
        d = f"M{bottom.cx:.1f},{y2:.1f} C{bottom.cx:.1f},{mid:.1f} {top.cx:.1f},{mid:.1f} {top.cx:.1f},{y1:.1f}"
    return d
