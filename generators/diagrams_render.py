"""Rendering view DOT to SVG (icons embedded once each as <symbol>s) and PNG, with Graphviz.

Renders are derived artifacts: `toolchain()` is part of their cache key, so it names everything
besides the DOT they depend on: Graphviz, the icons, the font, and this module's own code.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib.metadata import version
from pathlib import Path

from .diagrams_kit import FONT, ICON_ROOTS


@cache
def toolchain() -> str:
    """What the renders depend on besides their DOT: Graphviz, the icons and the fonts (the cache key)."""
    dot = subprocess.run([graphviz_dot(), "-V"], capture_output=True, text=True, check=True).stderr.strip()
    fonts = subprocess.run(["fc-match", "-f", "%{file}", FONT], capture_output=True, text=True).stdout.strip()
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"renderer {code}; {dot}; diagrams {version('diagrams')}; font {fonts}"


def graphviz_dot() -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("Graphviz `dot` is missing: apt-get install graphviz (scripts/ensure-system.sh does it)")
    return exe


def render(dot: str) -> tuple[bytes, bytes]:
    """One Graphviz layout of the DOT, written as SVG (icons embedded) and PNG."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "view.dot"
        src.write_text(dot, encoding="utf-8")
        subprocess.run(
            [graphviz_dot(), f"-Gimagepath={':'.join(map(str, ICON_ROOTS))}", "-Tsvg", "-Tpng", "-O", str(src)],
            check=True, capture_output=True,
        )
        svg = (Path(tmp) / "view.dot.svg").read_text(encoding="utf-8")
        png = (Path(tmp) / "view.dot.png").read_bytes()
    return embed_icons(svg).encode("utf-8"), png


def render_many(dots: dict[str, str]) -> dict[str, tuple[bytes, bytes]]:
    """Render several DOT sources in parallel (Graphviz runs as one process per view)."""
    with ThreadPoolExecutor() as pool:
        return dict(zip(dots, pool.map(render, dots.values())))


_IMAGE = re.compile(r'<image xlink:href="([^"]+)" width="([^"]+)" height="([^"]+)" preserveAspectRatio="([^"]+)" x="([^"]+)" y="([^"]+)"/>')


def embed_icons(svg: str) -> str:
    """Replace icon file references with inline data: each icon is embedded once as a <symbol> and reused."""
    icons: dict[str, str] = {}

    def use(m: re.Match) -> str:
        href, w, h, aspect, x, y = m.groups()
        if href.startswith("data:"):
            return m.group(0)
        sid = icons.setdefault(href, f"icon-{len(icons)}")
        return f'<use xlink:href="#{sid}" width="{w}" height="{h}" x="{x}" y="{y}"/>'

    body = _IMAGE.sub(use, svg)
    if not icons:
        return body
    defs = ["<defs>"]
    for href, sid in icons.items():
        data = next(root / href for root in ICON_ROOTS if (root / href).is_file()).read_bytes()
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        defs.append(
            f'<symbol id="{sid}" viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet">'
            f'<image width="{width}" height="{height}" xlink:href="data:image/png;base64,{base64.b64encode(data).decode()}"/>'
            "</symbol>"
        )
    defs.append("</defs>")
    out = re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + "\n" + "".join(defs), body, count=1)
    if re.search(r'xlink:href="(?!#|data:)', out):
        raise ValueError("an SVG icon could not be embedded")
    return out


