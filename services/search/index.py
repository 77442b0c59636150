"""An in-process BM25 index over product name, category, tags and description."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

TOKEN = re.compile(r"[a-z0-9]+")
FIELDS = {"name": 3.0, "category": 2.0, "tags": 2.0, "description": 1.0}
K1, B = 1.2, 0.75


def tokens(text: str) -> list[str]:
    out = []
    for t in TOKEN.findall(text.lower()):
        out.append(t)
        if len(t) > 4 and t.endswith("s"):
            out.append(t[:-1])  # light stemming: "headphones" also matches "headphone"
    return out


@dataclass
class Index:
    docs: dict[str, dict] = field(default_factory=dict)
    postings: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    lengths: dict[str, float] = field(default_factory=dict)
    avg_len: float = 1.0

    @classmethod
    def build(cls, products: list[dict]) -> Index:
        idx = cls()
        for p in products:
            weighted: Counter[str] = Counter()
            for fname, weight in FIELDS.items():
                value = p.get(fname, "")
                text = " ".join(value) if isinstance(value, list) else str(value)
                for t in tokens(text):
                    weighted[t] += weight
            idx.docs[p["id"]] = p
            idx.lengths[p["id"]] = sum(weighted.values())
            for t, tf in weighted.items():
                idx.postings[t][p["id"]] = tf
        idx.avg_len = (sum(idx.lengths.values()) / len(idx.lengths)) if idx.lengths else 1.0
        return idx

    def search(self, query: str) -> list[tuple[str, float]]:
        n = len(self.docs)
        scores: dict[str, float] = defaultdict(float)
        for t in set(tokens(query)):
            posting = self.postings.get(t)
            if not posting:
                # prefix match for partial words ("head" -> "headphones"), at half weight
                posting = {d: tf * 0.5 for term, ps in self.postings.items() if term.startswith(t) and len(t) >= 3 for d, tf in ps.items()}
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc, tf in posting.items():
                norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * self.lengths[doc] / self.avg_len))
                scores[doc] += idf * norm
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
