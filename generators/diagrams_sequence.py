"""Sequence diagrams of the model's flows, drawn directly in Graphviz DOT.

Participants are columns with dashed lifelines; each flow step is one row, and its message is a
horizontal arrow from the caller's lifeline to the callee's. Publishing goes to the event's
exchange; consuming comes from the exchange to the consumer, labelled with the queue.
"""

from __future__ import annotations

from diagrams.onprem.queue import Rabbitmq
from diagrams.programming.framework import Fastapi
from graphviz import Digraph

from model.schema import Flow, NetShopModel

from .diagrams_kit import (
    DATA,
    ENGINE_ICON,
    EVENT,
    FONT,
    INK,
    MUTED,
    SYNC,
    TIER_FILL,
    View,
    finish_dot,
    icon_path,
    tier_of,
    wrap,
)


def _participants(m: NetShopModel, flow: Flow) -> list[str]:
    out: list[str] = []
    for s in flow.steps:
        names = [s.source, s.to] if s.kind == "call" else [f"exchange.{m.event_by_name[s.event].exchange}", s.to]
        if s.kind == "publish":
            names = [m.event_by_name[s.event].producer, f"exchange.{m.event_by_name[s.event].exchange}"]
        for n in names:
            if n and n not in out:
                out.append(n)
    return out


def _header(m: NetShopModel, p: str) -> tuple[str, str, str]:
    """Icon, title and subtitle of a participant."""
    if p.startswith("exchange."):
        x = m.exchange_by_name[p.removeprefix("exchange.")]
        return icon_path(Rabbitmq), x.name, f"{x.type} exchange"
    if p in m.service_by_name:
        s = m.service_by_name[p]
        return icon_path(Fastapi), p, f"{s.tier} :{s.port}"
    d = m.datastore_by_name[p]
    return icon_path(ENGINE_ICON[d.kind]), p, f"{d.kind} :{d.port}"


def _message(m: NetShopModel, s) -> tuple[str, str, str, str, str]:
    """from, to, label, colour and style of one step."""
    if s.kind == "publish":
        event = m.event_by_name[s.event]
        return event.producer, f"exchange.{event.exchange}", f"publish {s.event}\n{wrap(s.note, WRAP)}", EVENT, "bold"
    if s.kind == "consume":
        event = m.event_by_name[s.event]
        sub = next(x for x in event.subscriptions if x.consumer == s.to)
        return f"exchange.{event.exchange}", s.to, f"{sub.queue}\n{wrap(s.note, WRAP)}", EVENT, "dashed"
    if s.to in m.datastore_by_name:
        return s.source, s.to, wrap(s.note, WRAP), DATA, "dashed"
    return s.source, s.to, f"{s.route}\n{wrap(s.note, WRAP)}", SYNC, "solid"


COLUMN = 190  # points between lifelines
ROW = 58  # points between messages
WRAP = 30  # characters per label line


def sequence(m: NetShopModel, flow: Flow) -> View:
    """Pinned positions (neato, `pos=x,y!`): the layout is computed here, so it is exact and stable."""
    parts = _participants(m, flow)
    g = Digraph("sequence", graph_attr={
        "layout": "neato", "inputscale": "72", "splines": "line", "label": f"{flow.title} (flow {flow.name})", "labelloc": "t",
        "fontname": FONT, "fontsize": "20", "fontcolor": INK, "pad": "0.4", "bgcolor": "white", "outputorder": "edgesfirst",
    })
    g.attr("node", fontname=FONT, fontsize="11", fontcolor=INK, pin="true")
    g.attr("edge", fontname=FONT, fontsize="10")
    bottom = -ROW * (len(flow.steps) + 1)
    x = {p: i * COLUMN for i, p in enumerate(parts)}
    for p in parts:
        icon, title, sub = _header(m, p)
        fill = TIER_FILL.get(tier_of(m, p) if not p.startswith("exchange.") else "data", "white")
        label = (f'<<TABLE BORDER="0" CELLSPACING="1"><TR><TD FIXEDSIZE="TRUE" WIDTH="40" HEIGHT="40"><IMG SRC="{icon}" SCALE="TRUE"/></TD></TR>'
                 f'<TR><TD><B>{title}</B></TD></TR><TR><TD><FONT POINT-SIZE="9">{sub}</FONT></TD></TR></TABLE>>')
        g.node(f"{p}.head", label=label, shape="box", style="rounded,filled", fillcolor=fill, color=MUTED, pos=f"{x[p]},40!")
        g.node(f"{p}.foot", label="", shape="point", width="0.06", color=MUTED, pos=f"{x[p]},{bottom}!")
        g.edge(f"{p}.head", f"{p}.foot", style="dashed", arrowhead="none", color=MUTED)
    for i, step in enumerate(flow.steps, start=1):
        src, dst, label, colour, style = _message(m, step)
        y = -ROW * i
        g.node(f"step{i}.from", label="", shape="point", width="0.07", color=colour, pos=f"{x[src]},{y}!")
        g.node(f"step{i}.to", label="", shape="point", width="0.01", color=colour, pos=f"{x[dst]},{y}!")
        g.edge(f"step{i}.from", f"step{i}.to", color=colour, style=style, arrowsize="0.8")
        lines = label.count("\n") + 1
        g.node(f"step{i}.label", label=f"{i}. {label}", shape="plaintext", fontcolor=colour, fontsize="10",
               pos=f"{(x[src] + x[dst]) / 2:g},{y + 6 + 6 * lines}!", margin="0")
    draws = [p for p in parts if not p.startswith("exchange.")] + [flow.name]
    draws += sorted({s.event for s in flow.steps if s.event})
    caption = f"{flow.description} {len(flow.steps)} steps, read top to bottom."
    return View(key=f"sequence-{flow.name}", title=flow.title, caption=caption, kind="sequence", subject=flow.name,
                draws=tuple(draws), dot=finish_dot(g.source))


def sequence_views(m: NetShopModel) -> list[View]:
    return [sequence(m, f) for f in m.flows]
