"""`python -m report [en] [fa]`: build the editions into report/build/ and print pages and seconds."""

from __future__ import annotations

import sys
import time

from model.loader import load_model

from .labels import EDITIONS
from .typeset import ReportError, build


def main(argv: list[str]) -> int:
    langs = argv or list(EDITIONS)
    model = load_model()
    for lang in langs:
        start = time.perf_counter()
        try:
            path, pages = build(lang, model)
        except ReportError as exc:
            print(f"report: {exc}", file=sys.stderr)
            return 1
        print(f"{path.relative_to(path.parents[2])}: {pages} pages in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
