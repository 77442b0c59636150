"""The drawing kit of the `diagrams` family: views, a DOT-only mingrammer canvas, model-aware nodes, and the renderer.

A view is a named picture over the model with an explicit kebab-case key. Building a view is
cheap and pure: it yields Graphviz DOT text (icons referenced relative to the `diagrams`
package's resources, fonts named explicitly). Rendering DOT to SVG and PNG is the slow part and
lives in `diagrams_render`, which the pipeline runs only for views whose DOT changed.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import diagrams
from diagrams import Cluster, Diagram, Edge, Node
from diagrams.onprem.database import Postgresql
from diagrams.onprem.inmemory import Redis
from diagrams.onprem.queue import Rabbitmq
from diagrams.programming.framework import Fastapi

from model.schema import DataEdge, NetShopModel, SyncEdge

from .base import header

RESOURCES = Path(diagrams.__file__).resolve().parent.parent / "resources"
# Where icons are found: the diagrams package, and KubeDiagrams' own `icons/` beside its script.
ICON_ROOTS = (RESOURCES, Path(sys.executable).parent)
FONT = "Noto Sans"
KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ROOT = "diagrams/"

# Colours by meaning, shared by every view so a reader learns them once.
INK = "#2D3436"
MUTED = "#95A5A6"
SYNC = "#2E86C1"
DATA = "#7D3C98"
EVENT = "#D35400"
DENY = "#C0392B"
ALLOW = "#27AE60"
CONTROL = "#566573"
TIER_FILL = {"edge": "#E8F6F3", "app": "#EBF5FB", "worker": "#FEF9E7", "data": "#F4ECF7"}


@dataclass(frozen=True)
class View:
    """A named picture over the model; `key` becomes `generated/diagrams/<key>.{dot,svg,png}`."""

    key: str
    title: str
    caption: str
    kind: str  # architecture | tier | flow | sequence | context | capability | kubernetes
    subject: str | None  # the service, datastore, tier, flow, event or capability it is about
    draws: tuple[str, ...]  # model ids drawn: workload names, `caller->callee` edges, events, zones, clouds, flows
    dot: str = field(repr=False, default="")  # empty for views rendered by KubeDiagrams from manifests

    @property
    def files(self) -> dict[str, str]:
        """Paths under `generated/` of the DOT source and its SVG and PNG renders."""
        return {ext: f"{ROOT}{self.key}.{ext}" for ext in ("dot", "svg", "png")}


# --------------------------------------------------------------------------- a DOT-only mingrammer canvas


class _Canvas(Diagram):
    """A mingrammer Diagram that only collects DOT: it never renders or writes a file."""

    _default_graph_attrs = {
        "pad": "0.4",
        "splines": "spline",
        "nodesep": "0.5",
        "ranksep": "0.8",
        "fontname": FONT,
        "fontsize": "20",
        "fontcolor": INK,
        "labelloc": "t",
        "compound": "true",
        "newrank": "true",
        "bgcolor": "white",
    }
    _default_node_attrs = {
        **Diagram._default_node_attrs,
        "fontname": FONT,
        "fontsize": "12",
        "fontcolor": INK,
    }
    _default_edge_attrs = {"color": MUTED, "fontname": FONT, "fontsize": "10", "fontcolor": INK}

    def __exit__(self, exc_type, exc_value, traceback):
        diagrams.setdiagram(None)


class _Group(Cluster):
    _default_graph_attrs = {**Cluster._default_graph_attrs, "fontname": FONT, "fontsize": "13", "style": "rounded"}


class _Link(Edge):
    _default_edge_attrs = {"fontname": FONT, "fontsize": "10", "fontcolor": INK}


class Plain(Node):
    """A node without an icon: a rounded box sized to its label."""

    _icon = None


def icon_path(cls: type[Node]) -> str:
    """A node class's icon relative to the `diagrams` resources (Graphviz finds it through `imagepath`)."""
    return f"{cls._icon_dir.removeprefix('resources/')}/{cls._icon}"


class Canvas:
    """Draws one view: nodes are created once per stable id, and the model ids drawn are recorded."""

    def __init__(self, model: NetShopModel, title: str, direction: str = "LR", **graph_attr: str):
        self.model = model
        self.drawn: list[str] = []
        self.nodes: dict[str, Node] = {}
        self.diagram = _Canvas(title, filename="view", show=False, direction=direction,
                               graph_attr={"splines": "spline", **graph_attr})

    def record(self, *model_ids: str) -> None:
        for m in model_ids:
            if m not in self.drawn:
                self.drawn.append(m)

    def node(self, nodeid: str, cls: type[Node], label: str, model_id: str | None = None, **attrs: str) -> Node:
        """The node with this id, created on first use (in the group open at that moment)."""
        if nodeid not in self.nodes:
            if cls is Plain:
                attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": "white", "fixedsize": "false",
                         "width": "0", "height": "0", "margin": "0.15,0.08", "labelloc": "c", **attrs}
            self.nodes[nodeid] = cls(label, nodeid=nodeid, **attrs)
        if model_id:
            self.record(model_id)
        return self.nodes[nodeid]

    @contextmanager
    def group(self, label: str, fill: str = "#F8F9F9", **attrs: str) -> Iterator[None]:
        with _Group(label, graph_attr={"bgcolor": fill, **attrs}):
            yield

    def link(self, a: Node, b: Node, label: str = "", color: str = MUTED, style: str = "solid",
             model_id: str | None = None, **attrs: str) -> None:
        a >> _Link(label=label, color=color, style=style, fontcolor=color if color != MUTED else INK, **attrs) >> b
        if model_id:
            self.record(model_id)

    def source(self) -> str:
        return finish_dot(self.diagram.dot.source)

    def view(self, key: str, caption: str, kind: str, subject: str | None = None) -> View:
        """The finished view: its DOT and the model ids drawn on it."""
        return View(key=key, title=self.diagram.name, caption=caption, kind=kind, subject=subject,
                    draws=tuple(self.drawn), dot=self.source())

    def __enter__(self) -> Canvas:
        self.diagram.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.diagram.__exit__(*exc)


def finish_dot(source: str) -> str:
    """Banner first, icons relative to the resources directory, and a guard against absolute paths."""
    text = source
    for root in ICON_ROOTS:
        text = text.replace(f"{root}/", "")
    if any(str(root) in text for root in ICON_ROOTS) or re.search(r'(image|src)="/', text):
        raise ValueError("a diagram still references an absolute path")
    return header("generators.diagrams", comment="//") + text




# --------------------------------------------------------------------------- model-aware drawing

ENGINE_ICON: dict[str, type[Node]] = {"postgres": Postgresql, "redis": Redis, "rabbitmq": Rabbitmq}
BOLD = f"{FONT} Bold"


def tier_of(model: NetShopModel, name: str) -> str:
    """The tier of a workload; datastores live in the data tier."""
    svc = model.service_by_name.get(name)
    return svc.tier if svc else "data"


def tier_title(model: NetShopModel, tier: str) -> str:
    t = model.tier_by_name.get(tier)
    return f"{t.title} tier" if t else f"{tier} tier"


def edge_tier(model: NetShopModel) -> str:
    """The tier the ingress reaches: where north/south traffic enters."""
    return model.service_by_name[model.platform.ingress.service].tier


def workload(cv: Canvas, name: str, faded: bool = False, bold: bool = False) -> Node:
    """A service (the FastAPI icon, with its port) or a datastore (its engine's icon)."""
    m = cv.model
    style = {"fontcolor": MUTED} if faded else {"fontname": BOLD} if bold else {}
    if name in m.service_by_name:
        return cv.node(name, Fastapi, f"{name}\n:{m.service_by_name[name].port}", model_id=name, **style)
    ds = m.datastore_by_name[name]
    return cv.node(name, ENGINE_ICON[ds.kind], f"{name}\n{ds.kind} :{ds.port}", model_id=name, **style)


def place_by_tier(cv: Canvas, names: list[str], faded: set[str] = frozenset(), bold: set[str] = frozenset(),
                  extras: dict[str, Callable[[], None]] | None = None, stack: bool = True) -> None:
    """Workloads in one group per tier, in model order; `extras` draws more inside a tier.

    With `stack`, invisible edges keep the tiers in model order along the layout direction.
    """
    m = cv.model
    order = [n for n in m.workload_names if n in set(names)]
    extras = extras or {}
    firsts: list[Node] = []
    for tier in m.platform.tiers:
        members = [n for n in order if tier_of(m, n) == tier.name]
        if not members and tier.name not in extras:
            continue
        with cv.group(tier_title(m, tier.name), fill=TIER_FILL.get(tier.name, "#F8F9F9")):
            nodes = [workload(cv, n, faded=n in faded, bold=n in bold) for n in members]
            if tier.name in extras:
                extras[tier.name]()
        if nodes:
            firsts.append(nodes[0])
    if stack:
        for a, b in zip(firsts, firsts[1:]):
            a >> _Link(style="invis", weight="10") >> b


def tier_summaries(cv: Canvas, icon: type[Node], prefix: str = "tier") -> dict[str, Node]:
    """One node per tier that lists its workloads: the compact form when a view is about the platform as a whole."""
    m = cv.model
    out = {}
    for tier in m.platform.tiers:
        names = [n for n in m.workload_names if tier_of(m, n) == tier.name]
        if names:
            out[tier.name] = cv.node(f"{prefix}.{tier.name}", icon, f"{tier_title(m, tier.name)}\n{wrap(', '.join(names), 34)}")
            cv.record(*names)
    return out


def route_label(model: NetShopModel, edge: SyncEdge) -> str:
    """The callee routes an edge uses: explicit ones listed, `public`/`*` counted."""
    explicit = [r for r in edge.routes if r not in ("public", "*")]
    granted = len(model.routes_of_edge(edge))
    if len(explicit) == len(edge.routes):
        return "\n".join(explicit)
    return f"{', '.join(edge.routes)} ({granted} routes)"


def sync_link(cv: Canvas, edge: SyncEdge, label: str | None = None, color: str = SYNC, **attrs: str) -> None:
    cv.link(workload(cv, edge.caller), workload(cv, edge.callee), label=route_label(cv.model, edge) if label is None else label,
            color=color, model_id=edge.id, **attrs)


def data_link(cv: Canvas, edge: DataEdge, label: str = "", **attrs: str) -> None:
    broker = cv.model.datastore_by_name[edge.datastore].kind == "rabbitmq"
    cv.link(workload(cv, edge.service), workload(cv, edge.datastore), label=label, color=EVENT if broker else DATA,
            style="dashed", model_id=edge.id, **attrs)


def wrap(text: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def capability(model: NetShopModel, cap_id: str):
    return next((c for c in model.capabilities if c.id == cap_id), None)
