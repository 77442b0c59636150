"""Product art the project owns: a deterministic SVG per product, drawn from its name and category."""

from __future__ import annotations

import hashlib
from html import escape

from .catalogue import CATEGORIES

GLYPHS = {
    "audio": '<circle cx="160" cy="150" r="58" fill="none" stroke="#fff" stroke-width="14"/><rect x="92" y="150" width="26" height="60" rx="10" fill="#fff"/><rect x="202" y="150" width="26" height="60" rx="10" fill="#fff"/>',
    "kitchen": '<circle cx="150" cy="160" r="54" fill="#fff"/><rect x="200" y="150" width="80" height="18" rx="9" fill="#fff"/>',
    "home": '<path d="M90 170 L160 105 L230 170 V230 H90 Z" fill="#fff"/><rect x="145" y="185" width="30" height="45" fill-opacity=".35" fill="#000"/>',
    "outdoor": '<path d="M70 230 L140 120 L180 175 L205 145 L260 230 Z" fill="#fff"/><circle cx="235" cy="105" r="18" fill="#fff"/>',
    "stationery": '<rect x="105" y="95" width="110" height="140" rx="8" fill="#fff"/><path d="M125 130 H195 M125 155 H195 M125 180 H175" stroke-opacity=".4" stroke="#000" stroke-width="8"/>',
    "apparel": '<path d="M115 100 L140 90 Q160 110 180 90 L205 100 L245 135 L220 160 L205 148 V235 H115 V148 L100 160 L75 135 Z" fill="#fff"/>',
}


def svg(slug: str, name: str, category: str) -> str:
    title, colour = CATEGORIES.get(category, (category.title(), "#475569"))
    h = hashlib.sha256(slug.encode()).digest()
    angle = h[0] % 360
    light = 30 + h[1] % 25
    initials = "".join(w[0] for w in name.split()[:2]).upper()
    return f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 320" role="img" aria-label="{escape(name)}">
<defs><linearGradient id="g" gradientTransform="rotate({angle} .5 .5)"><stop offset="0" stop-color="{colour}"/><stop offset="1" stop-color="hsl({angle},60%,{light}%)"/></linearGradient></defs>
<rect width="320" height="320" rx="24" fill="url(#g)"/>
<circle cx="{60 + h[2] % 200}" cy="{40 + h[3] % 60}" r="{30 + h[4] % 40}" fill="#fff" fill-opacity=".08"/>
{GLYPHS.get(category, "")}
<text x="24" y="292" font-family="Noto Sans, DejaVu Sans, sans-serif" font-size="26" font-weight="700" fill="#fff" fill-opacity=".9">{escape(initials)}</text>
<text x="296" y="292" text-anchor="end" font-family="Noto Sans, DejaVu Sans, sans-serif" font-size="16" fill="#fff" fill-opacity=".75">{escape(title)}</text>
</svg>
"""
