"""The companion report: both editions build with WeasyPrint, carry every chapter and the model's
tables, run past 25 pages, are byte-identical when built twice, and follow a changed model."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from pypdf import PdfReader

from conftest import build as build_model
from conftest import with_new_service
from report.labels import CHAPTERS, EDITIONS
from report.typeset import build, render_html, render_tables_html, write_pdf

SEED_SERVICE_COUNT = 16  # the seed's "sixteen services": the model's services plus the data tier as one row
ZWNJ = "\u200c"


def plain(text: str) -> str:
    """Extracted PDF text compared loosely: no zero-width non-joiners, whitespace collapsed."""
    return re.sub(r"\s+", " ", text.replace(ZWNJ, "")).strip()


def pdf_text(path) -> list[str]:
    return [plain(p.extract_text() or "") for p in PdfReader(str(path)).pages]


@pytest.fixture(scope="module")
def editions(netshop, tmp_path_factory):
    """Both editions built once from the real model: lang -> (path, pages, text per page, seconds)."""
    out = tmp_path_factory.mktemp("report")
    built = {}
    for lang in EDITIONS:
        start = time.perf_counter()
        path, pages = build(lang, netshop, out=out)
        built[lang] = (path, pages, pdf_text(path), time.perf_counter() - start)
    for lang, (_, pages, _, seconds) in built.items():
        print(f"report {lang}: {pages} pages in {seconds:.1f} s")
    return built


@pytest.mark.parametrize("lang", list(EDITIONS))
def test_each_edition_has_a_contents_page_and_every_chapter(editions, lang):
    L = EDITIONS[lang]
    _, _, pages, _ = editions[lang]
    assert plain(L.contents) in pages[1], "the contents follow the cover"
    body = " ".join(pages[2:])
    for key in CHAPTERS:
        title = plain(L.chapter_titles[key])
        # once in the contents, once as the chapter heading (and in running headers)
        assert " ".join(pages).count(title) >= 2, f"{lang}: chapter {title!r} missing"
        assert title in body


@pytest.mark.parametrize("lang", list(EDITIONS))
def test_each_edition_runs_past_25_pages_with_numbered_figures_and_tables(editions, lang):
    L = EDITIONS[lang]
    _, count, pages, _ = editions[lang]
    assert count >= 25, f"{lang}: only {count} pages"
    text = " ".join(pages)
    for n in (1, 2, 3, 10):
        d = re.escape(L.n(n))  # extraction may put a right-to-left label after its number
        for word in (L.figure_word, L.table_word):
            w = re.escape(plain(word))
            assert re.search(rf"{w} {d}\b|(?<![0-9۰-۹]){d}\.? {w}", text), f"{lang}: {word} {n} is not numbered"


# The heading that follows the service table in each edition's architecture chapter.
AFTER_SERVICE_TABLE = {"en": "The edge tier", "fa": "لایهٔ لبه"}


def service_table_segment(pages: list[str], lang: str) -> str:
    """The text of the service table: from its caption in the body to the heading after it."""
    L = EDITIONS[lang]
    text = " ".join(pages[2:])
    start = [m.end() for m in re.finditer(re.escape(plain(L.t_services)), text)]
    assert start, f"{lang}: the service table's caption is missing"
    end = text.find(plain(AFTER_SERVICE_TABLE[lang]), start[-1])
    assert end > start[-1], f"{lang}: the edge tier's section should follow the service table"
    return text[start[-1]:end]


@pytest.mark.parametrize("lang", list(EDITIONS))
def test_service_table_lists_all_sixteen_services(editions, lang, netshop):
    segment = service_table_segment(editions[lang][2], lang)
    rows = [s.name for s in netshop.services if re.search(rf"(?<![A-Za-z0-9-]){re.escape(s.name)}(?![A-Za-z0-9-])", segment)]
    assert rows == [s.name for s in netshop.services], f"{lang}: missing {set(s.name for s in netshop.services) - set(rows)}"
    for s in netshop.services:
        assert str(s.port) in segment, f"{lang}: port {s.port} of {s.name} is not in the table (ports stay Latin)"
    data_row = r"\s*/\s*".join(re.escape(d.name) for d in netshop.datastores)
    assert re.search(data_row, segment), f"{lang}: the data tier row is missing"
    assert len(rows) + 1 == SEED_SERVICE_COUNT
    if lang == "en":  # each row reads name, tier, port, replicas
        for s in netshop.services:
            assert re.search(rf"{s.name} {EDITIONS['en'].tier(s.tier)} {s.port} {s.scaling.min}–{s.scaling.max}", segment)


def test_persian_edition_is_right_to_left_in_a_persian_font_with_persian_digits(editions, netshop):
    path, _, pages, _ = editions["fa"]
    fonts = set()
    for page in PdfReader(str(path)).pages[:12]:
        for font in (page.get("/Resources", {}).get("/Font", {}) or {}).values():
            fonts.add(str(font.get_object().get("/BaseFont")))
    assert any("Noto-Naskh-Arabic" in f for f in fonts), f"no Persian font embedded: {sorted(fonts)}"
    assert "فهرست مطالب" in pages[1]
    assert re.search("[۰-۹]", pages[1]), "the contents' page numbers should be Persian digits"
    html = render_html(netshop, "fa")
    assert 'dir="rtl"' in html and 'lang="fa"' in html
    # identifiers stay Latin inside the Persian text
    assert "api-gateway" in " ".join(pages) and "order.created" in " ".join(pages)


@pytest.mark.parametrize("lang", list(EDITIONS))
def test_building_twice_gives_identical_bytes(editions, netshop, tmp_path, lang):
    first, _, _, _ = editions[lang]
    second, _ = build(lang, netshop, out=tmp_path)
    assert hashlib.sha256(first.read_bytes()).hexdigest() == hashlib.sha256(second.read_bytes()).hexdigest()
    assert b"/CreationDate (D:20260101" in second.read_bytes() or b"CreationDate" not in second.read_bytes()


def test_the_html_does_not_depend_on_where_the_checkout_lives(netshop):
    from report.typeset import REPO

    for lang in EDITIONS:
        assert str(REPO) not in render_html(netshop, lang), "an absolute path would change the PDF's bytes per checkout"


def test_an_added_service_appears_in_every_report_table_it_belongs_to(model_data, netshop, tmp_path):
    model = build_model(with_new_service(model_data))
    keys = ["services", "sync-edges", "data-edges", "network-policies", "autoscaling", "resources"]
    write_pdf(render_tables_html(model, "en", keys), tmp_path / "tables.pdf")
    text = " ".join(pdf_text(tmp_path / "tables.pdf"))
    assert re.search(r"wishlist application 8110 3–6 redis Saved products per user", text), "service table"
    assert "api-gateway → wishlist" in text and "wishlist → products" in text, "sync edge table"
    assert "wishlist → redis" in text, "data edge table"
    for policy in ("allow-wishlist-to-redis-egress", "allow-wishlist-to-redis-ingress",
                   "allow-api-gateway-to-wishlist-ingress", "allow-prometheus-to-wishlist-ingress"):
        assert policy in text.replace(" ", ""), f"policy table: {policy}"
    assert re.search(r"wishlist 3 6 70%", text), "autoscaling table"
    # and the real model's tables do not have it
    real = render_tables_html(netshop, "en", keys)
    assert "wishlist" not in real


def test_a_missing_figure_or_edition_is_a_clear_error(netshop, tmp_path):
    from report.labels import EN
    from report.typeset import Chapters, ReportError

    with pytest.raises(ReportError, match=r"platform\.png is missing; run `netshop generate`"):
        Chapters(netshop, EN, diagrams=tmp_path, chapters=[]).figure("platform")
    with pytest.raises(ReportError, match="not a view of the model"):
        Chapters(netshop, EN, chapters=[]).figure("no-such-view")
    with pytest.raises(ReportError, match="unknown edition 'de'; choose from en, fa"):
        render_html(netshop, "de")
