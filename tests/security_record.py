"""Figures the security suites measure, collected for `make security` (bench/security.py writes the
results file). A test calls `record(name, value)`; when NETSHOP_SECURITY_RECORD names a file, each
figure is appended to it as one JSON line, otherwise nothing is written."""

from __future__ import annotations

import json
import os


def record(name: str, value, **labels) -> None:
    path = os.environ.get("NETSHOP_SECURITY_RECORD")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"name": name, "value": value, **labels}, sort_keys=True) + "\n")
