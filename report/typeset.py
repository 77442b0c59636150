"""Typeset the companion report: chapters (Jinja2 HTML) + model tables + generated diagrams -> WeasyPrint PDF.

`render_html(model, lang)` is pure (model in, HTML out); `build(lang)` writes the PDF reproducibly:
no dates or random ids in the file, fixed metadata, so two builds give identical bytes.
"""

from __future__ import annotations

import hashlib
import os
import html
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from generators.diagrams import views
from model.loader import load_model
from model.schema import NetShopModel

from . import tables as tables_mod
from .labels import CHAPTERS, EDITIONS, Labels

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DIAGRAMS = REPO / "generated" / "diagrams"
BUILD = HERE / "build"
OUTPUT = {"en": "netshop-report.pdf", "fa": "netshop-report-fa.pdf"}
# Fixed metadata: the PDF carries these instead of the build time, so builds are byte-identical.
# The generated PNGs are the figures' source (WeasyPrint draws the SVGs' many text nodes far slower).
FIGURE_FORMAT = "png"
# WeasyPrint re-encodes every PNG it embeds (twice for RGBA) but embeds a JPEG as it is, so each figure
# is flattened onto white and stored once as a high-quality JPEG, named by the PNG's hash.
FIGURE_CACHE = BUILD / "figures"
JPEG_QUALITY = 90
# WeasyPrint names an image after its URL, so figures get a URL that does not depend on where the
# repository lives (a file:// URL would make two checkouts build different bytes).
FIGURE_SCHEME = "netshop-figure"
FIGURE_MAX_PIXELS = 2400  # longer side; a full-page figure still prints at over 300 dpi
FIXED_DATE = "2026-01-01T00:00:00Z"


class ReportError(Exception):
    """The report cannot be built as asked (missing figure, unknown table); the message says how to fix it."""


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    caption: str
    path: Path


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def print_image(png: Path) -> Path:
    """The figure as a JPEG on white, converted once per PNG content (deterministic: same PNG, same bytes)."""
    from PIL import Image

    data = png.read_bytes()
    target = FIGURE_CACHE / f"{png.stem}-{hashlib.sha256(data).hexdigest()[:16]}.jpg"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(png) as im:
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
        flat.thumbnail((FIGURE_MAX_PIXELS, FIGURE_MAX_PIXELS), Image.Resampling.LANCZOS)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        flat.save(tmp, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
        tmp.replace(target)
    return target


def counts(model: NetShopModel) -> dict[str, int]:
    """Figures the prose quotes, computed from the model and the generators (never typed in)."""
    from generators import k8s as k8s_gen
    from generators import networkpolicies

    objects = k8s_gen.objects(model)
    return {
        "policies": len(networkpolicies.policies(model)),
        "objects": len(objects),
        "kinds": len({o["kind"] for o in objects}),
        "public_routes": sum(1 for s in model.services for r in s.routes if r.public),
        "routes": sum(len(s.routes) for s in model.services),
        "edges": len(model.edges),
        "subscriptions": sum(len(e.subscriptions) for e in model.events),
        "ha_services": sum(1 for s in model.services if model.tier_by_name[s.tier].ha),
    }


class Chapters:
    """Renders one edition: the helpers chapter templates call, and the record of what they placed."""

    def __init__(self, model: NetShopModel, labels: Labels, diagrams: Path = DIAGRAMS, chapters: list[str] | None = None) -> None:
        self.model, self.L, self.diagrams = model, labels, diagrams
        self.chapters = chapters if chapters is not None else CHAPTERS
        self.tables = tables_mod.all_tables(model, labels)
        self.views = {v.key: v for v in views(model)}
        self.counts = counts(model)
        self.placed_figures: list[tuple[str, str]] = []
        self.placed_tables: list[str] = []
        self.env = _env()

    # -- helpers for the chapter templates --

    def n(self, value: object) -> str:
        return self.L.n(value)

    def figure(self, key: str, caption: str | None = None, width: str = "100%") -> Markup:
        view = self.views.get(key)
        if view is None:
            raise ReportError(f"figure {key!r} is not a view of the model; views: {', '.join(sorted(self.views))}")
        path = self.diagrams / f"{key}.{FIGURE_FORMAT}"
        if not path.exists():
            raise ReportError(f"figure {key!r}: {path} is missing; run `netshop generate` (or `make generate`) first")
        path = print_image(path)
        title = caption if caption is not None else f"{view.title}. {view.caption}"
        title = re.sub(r"`([^`]+)`", r"\1", title)
        # the list of figures shows the caption's first clause (the view's title in English)
        self.placed_figures.append((key, view.title if caption is None else re.split(r":|؛|\.\s|\.$", caption)[0]))
        return Markup(
            f'<figure id="fig-{key}"><img src="{FIGURE_SCHEME}:{path.name}" style="max-width:{width}" alt="{html.escape(key)}">'
            f'<figcaption><span class="fig-title">{html.escape(title)}</span></figcaption></figure>'
        )

    def table(self, key: str, compact: bool = False) -> Markup:
        t = self.tables.get(key)
        if t is None:
            if key == "results":  # present only once a proving suite has recorded a run
                return Markup("")
            raise ReportError(f"table {key!r} is not one of the report's tables: {', '.join(sorted(self.tables))}")
        self.placed_tables.append(key)
        cols = "".join(f'<col style="width:{w}">' for w in t.widths) if t.widths else ""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in t.headers)
        rows = []
        for row in t.rows:
            cells = []
            for c in row:
                if c.code:
                    cells.append(f'<td class="code" dir="ltr">{html.escape(c.text)}</td>')
                elif c.number:
                    cells.append(f'<td class="num">{html.escape(self.n(c.text))}</td>')
                else:
                    cells.append(f'<td dir="auto">{html.escape(c.text)}</td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        cls = "model-table compact" if compact or len(t.headers) > 5 else "model-table"
        return Markup(
            f'<table id="tbl-{t.key}" class="{cls}" data-rows="{len(t.rows)}"><caption>{html.escape(t.caption)}</caption>'
            f"<colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def figref(self, key: str) -> Markup:
        return Markup(f'<a class="figref" href="#fig-{key}"></a>')

    def tblref(self, key: str) -> Markup:
        return Markup(f'<a class="tblref" href="#tbl-{key}"></a>')

    def chref(self, key: str) -> Markup:
        return Markup(f'<a class="chref" href="#ch-{key}">{html.escape(self.L.chapter_titles[key])}</a>')

    def c(self, ident: object) -> Markup:
        """An identifier in running text: code type, left-to-right inside either edition."""
        return Markup(f'<code dir="ltr">{html.escape(str(ident))}</code>')

    # -- the edition --

    def render_chapter(self, key: str) -> tuple[str, list[tuple[str, str]]]:
        """One chapter's HTML and its sections (id, title) for the table of contents."""
        tpl = self.env.get_template(f"chapters/{self.L.lang}/{key}.html")
        body = tpl.render(m=self.model, L=self.L, r=self, n=self.n, fig=self.figure, tbl=self.table,
                          figref=self.figref, tblref=self.tblref, chref=self.chref, c=self.c)
        sections: list[tuple[str, str]] = []

        def number(match: re.Match) -> str:
            sid = f"sec-{key}-{len(sections) + 1}"
            sections.append((sid, re.sub(r"<[^>]+>", "", match.group(1))))
            return f'<h2 id="{sid}">{match.group(1)}</h2>'

        body = re.sub(r"<h2>(.*?)</h2>", number, body)
        return body, sections

    def render(self) -> str:
        chapters = []
        for key in self.chapters:
            body, sections = self.render_chapter(key)
            chapters.append({"key": key, "title": self.L.chapter_titles[key], "body": Markup(body), "sections": sections})
        figures = list(self.placed_figures)
        tables = [(k, self.tables[k].caption) for k in self.placed_tables]
        return self.env.get_template("report.html").render(
            L=self.L, m=self.model, n=self.n, chapters=chapters, figures=figures, tables=tables,
            css=Markup((HERE / "templates" / "report.css").read_text()), date=FIXED_DATE,
        )


def render_html(model: NetShopModel, lang: str, diagrams: Path = DIAGRAMS, chapters: list[str] | None = None) -> str:
    """The edition's complete HTML (pure: the same model gives the same HTML)."""
    if lang not in EDITIONS:
        raise ReportError(f"unknown edition {lang!r}; choose from {', '.join(EDITIONS)}")
    return Chapters(model, EDITIONS[lang], diagrams, chapters).render()


# Decoded figures, shared by the editions of one process (WeasyPrint re-encodes every PNG it embeds).
IMAGE_CACHE: dict = {}


def render_tables_html(model: NetShopModel, lang: str, keys: list[str]) -> str:
    """Only the chosen model tables, in the report's frame and style (what a model change must reach)."""
    r = Chapters(model, EDITIONS[lang], chapters=[])
    body = Markup("".join(r.table(k) for k in keys))
    return r.env.get_template("tables.html").render(
        L=r.L, body=body, css=Markup((HERE / "templates" / "report.css").read_text()), date=FIXED_DATE)


def _fetcher():
    """WeasyPrint's URL fetcher, plus `netshop-figure:<file>` for the converted figures."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class FigureFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith(f"{FIGURE_SCHEME}:"):
                path = FIGURE_CACHE / Path(url.removeprefix(f"{FIGURE_SCHEME}:")).name
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": "image/jpeg"})
            return super().fetch(url, headers)

    return FigureFetcher(fail_on_errors=True)


def write_pdf(html_text: str, target: Path) -> int:
    """Typeset HTML to a PDF at `target`; returns the page count. No timestamps, no random identifier."""
    from weasyprint import HTML

    target.parent.mkdir(parents=True, exist_ok=True)
    doc = HTML(string=html_text, base_url=str(HERE), url_fetcher=_fetcher()).render(cache=IMAGE_CACHE)
    doc.write_pdf(target, pdf_identifier=b"netshop-report", cache=IMAGE_CACHE)
    return len(doc.pages)


def build(lang: str, model: NetShopModel | None = None, out: Path = BUILD) -> tuple[Path, int]:
    """Build one edition into `out`; returns its path and page count."""
    model = model or load_model()
    target = out / OUTPUT[lang]
    return target, write_pdf(render_html(model, lang), target)
