"""`make security`: run the bad-input and security suites against isolated platforms (the full fuzz
pass included) and write bench/results/security-<UTC timestamp>.json in the shared results format.

    .venv/bin/python bench/security.py [--bounded] [--out bench/results]

The suites record what they measured (tests/security_record.py); this script adds the pytest outcome,
turns the figures into checks against their targets, prints them, and exits non-zero when a check fails."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUITES = ["tests/test_security_fuzz.py", "tests/test_security_auth.py", "tests/test_security_identity.py"]


def run_suites(bounded: bool, record: Path, junit: Path) -> tuple[int, str]:
    selection = ["-m", "not slow"] if bounded else ["-m", "slow or not slow", "-k", "not bounded"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection, f"--junitxml={junit}", *SUITES]
    env = {**os.environ, "NETSHOP_SECURITY_RECORD": str(record)}
    print("$", " ".join(cmd[2:]), flush=True)
    proc = subprocess.run(cmd, cwd=REPO, env=env)
    return proc.returncode, " ".join(["pytest", *(a for a in cmd[3:] if not a.startswith("--junitxml"))])


def tests_outcome(junit: Path) -> dict[str, int]:
    if not junit.exists():
        return {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    root = ET.parse(junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


def summarise(lines: list[dict], outcome: dict[str, int]) -> tuple[dict, list[dict]]:
    total: dict[str, float] = defaultdict(float)
    per_service: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for item in lines:
        total[item["name"]] += item["value"]
        if "service" in item and item["name"].startswith("fuzz_") and item["name"] != "fuzz_findings_pinned":
            per_service[item["name"]][item["service"]] += item["value"]
    figures: dict[str, float | int | str] = {k: int(v) if float(v).is_integer() else round(v, 1) for k, v in sorted(total.items())}
    for service, cases in sorted(per_service["fuzz_cases"].items()):
        figures[f"fuzz_cases[{service}]"] = int(cases)
    figures["fuzz_targets"] = len(per_service["fuzz_cases"])
    figures.update({f"pytest_{k}": v for k, v in outcome.items()})

    def check(name: str, value, target: str, ok: bool) -> dict:
        return {"name": name, "value": value, "target": target, "pass": bool(ok)}

    g = lambda k: figures.get(k, 0)  # noqa: E731
    checks = [
        check("services and public API fuzzed", g("fuzz_targets"), ">= 16 (15 services + the gateway's public API)", g("fuzz_targets") >= 16),
        check("fuzz cases sent", g("fuzz_cases"), ">= 1000", g("fuzz_cases") >= 1000),
        check("5xx answers to fuzzed requests", g("fuzz_5xx"), "== 0", g("fuzz_cases") > 0 and g("fuzz_5xx") == 0),
        check("fuzz findings (5xx or an error that is not problem+json)", g("fuzz_findings"), "== 0",
              g("fuzz_cases") > 0 and g("fuzz_findings") == 0),
        check("JWT attacks rejected", g("jwt_attacks_rejected"), f"== attacks tried ({g('jwt_attacks_tried')})",
              g("jwt_attacks_tried") > 0 and g("jwt_attacks_rejected") == g("jwt_attacks_tried")),
        check("wrong passwords per account before 429", g("brute_force_account_attempts_before_429"), "== 5",
              g("brute_force_account_attempts_before_429") == 5),
        check("concurrent guesses that reached the password check", g("brute_force_concurrent_guesses_checked"), "== 5 of 20",
              g("brute_force_concurrent_guesses_checked") == 5),
        check("SQL-injection strings stored and returned literally", g("sql_injection_strings_stored_literally"), ">= 7",
              g("sql_injection_strings_stored_literally") >= 7),
        check("oversized bodies refused with 413", g("oversized_bodies_refused"), ">= 20", g("oversized_bodies_refused") >= 20),
        check("secrets, passwords or tokens found in logs", g("secrets_found_in_logs"), "== 0",
              g("logs_scanned") > 0 and g("secrets_found_in_logs") == 0),
        check("non-peer service calls refused (403)", g("identity_non_peer_calls_refused"), ">= 100",
              g("identity_non_peer_calls_refused") >= 100),
        check("forged, replayed or expired service tokens refused (401)", g("identity_forged_tokens_refused"), ">= 50",
              g("identity_forged_tokens_refused") >= 50),
        check("security tests failed", g("pytest_failures") + g("pytest_errors"), "== 0",
              g("pytest_tests") > 0 and g("pytest_failures") + g("pytest_errors") == 0),
    ]
    return figures, checks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bounded", action="store_true", help="the bounded fuzz pass of `make test` instead of the full one")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        record, junit = Path(tmp) / "record.jsonl", Path(tmp) / "junit.xml"
        code, command = run_suites(args.bounded, record, junit)
        lines = [json.loads(x) for x in record.read_text().splitlines()] if record.exists() else []
        outcome = tests_outcome(junit)
    figures, checks = summarise(lines, outcome)
    result = {
        "suite": "security", "command": "make security" + (" SECURITY_ARGS=--bounded" if args.bounded else ""),
        "started": started.isoformat(timespec="seconds"), "duration_s": round(time.monotonic() - t0, 1),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "figures": {**figures, "pytest_command": command}, "checks": checks,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"security-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    width = max(len(c["name"]) for c in checks)
    for c in checks:
        print(f"{'PASS' if c['pass'] else 'FAIL'}  {c['name']:<{width}}  {c['value']!s:>8}  target {c['target']}")
    print(f"fuzz cases per target: " + ", ".join(f"{k[11:-1]}={v}" for k, v in figures.items() if k.startswith("fuzz_cases[")))
    print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0 if code == 0 and all(c["pass"] for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
