"""Results of the proving suites (load, chaos, security) in one JSON shape, so one generated page
renders them all.

    bench/results/<suite>-<UTC yyyymmddThhmmssZ>.json
    {"suite": "load", "command": "make bench", "started": "<iso8601>", "duration_s": 123.4,
     "machine": {"cores": 2, "python": "3.11.7", ...},
     "figures": {"<name>": <number|string>, ...},
     "checks": [{"name": ..., "value": ..., "target": ">= 0.30", "pass": true}]}

`write()` stores a run, `load_all()` reads every stored run (oldest first per suite), `latest_two()`
pairs a suite's newest run with the one before it, and `deltas()` compares their figures.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SUITES = ("load", "chaos", "security")
Number = int | float


@dataclass
class Check:
    """One figure compared with its target."""

    name: str
    value: Number | str
    target: str
    passed: bool

    def as_json(self) -> dict:
        return {"name": self.name, "value": self.value, "target": self.target, "pass": bool(self.passed)}


def at_least(name: str, value: Number, bound: Number, unit: str = "") -> Check:
    return Check(name, value, f">= {bound}{unit}", value >= bound)


def at_most(name: str, value: Number, bound: Number, unit: str = "") -> Check:
    return Check(name, value, f"<= {bound}{unit}", value <= bound)


def below(name: str, value: Number, bound: Number, unit: str = "") -> Check:
    return Check(name, value, f"< {bound}{unit}", value < bound)


def equals(name: str, value: Number | str, expected: Number | str, unit: str = "") -> Check:
    return Check(name, value, f"== {expected}{unit}", value == expected)


def machine() -> dict:
    """Where a run happened: enough to tell two machines apart, nothing secret."""
    info: dict[str, Any] = {"cores": os.cpu_count() or 0, "python": platform.python_version(),
                            "system": f"{platform.system()} {platform.machine()}"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        info["memory_gib"] = round(int(mem.split()[1]) / 1024**2, 1)
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except (OSError, StopIteration):
        pass
    return info


@dataclass
class Run:
    """One stored run of a suite."""

    suite: str
    command: str
    started: str
    duration_s: float
    machine: dict
    figures: dict[str, Number | str]
    checks: list[dict] = field(default_factory=list)
    path: Path | None = None

    @property
    def passed(self) -> bool:
        return all(c["pass"] for c in self.checks)

    def as_json(self) -> dict:
        return {"suite": self.suite, "command": self.command, "started": self.started, "duration_s": round(self.duration_s, 1),
                "machine": self.machine, "figures": self.figures, "checks": self.checks}


def stamp(started: datetime) -> str:
    return started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def write(suite: str, command: str, started: datetime, duration_s: float, figures: dict, checks: list[Check | dict],
          folder: Path = RESULTS) -> Path:
    """Store a run as bench/results/<suite>-<stamp>.json (sorted keys, 2-space indent) and return its path."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; one of {', '.join(SUITES)}")
    run = Run(suite=suite, command=command, started=started.astimezone(UTC).isoformat(timespec="seconds"),
              duration_s=duration_s, machine=machine(), figures=figures,
              checks=[c.as_json() if isinstance(c, Check) else c for c in checks])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{suite}-{stamp(started)}.json"
    path.write_text(json.dumps(run.as_json(), indent=2, sort_keys=True) + "\n")
    return path


class ResultError(ValueError):
    """A results file that does not follow the shared shape (names the file and the key)."""


def read(path: Path) -> Run:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ResultError(f"{path}: not JSON ({exc})") from None
    for key in ("suite", "command", "started", "figures", "checks"):
        if key not in data:
            raise ResultError(f"{path}: missing key {key!r} (shared shape: see netshop/results.py)")
    for i, c in enumerate(data["checks"]):
        missing = {"name", "value", "target", "pass"} - set(c)
        if missing:
            raise ResultError(f"{path}: checks[{i}] lacks {sorted(missing)}")
    return Run(suite=data["suite"], command=data["command"], started=data["started"], duration_s=float(data.get("duration_s", 0)),
               machine=data.get("machine", {}), figures=data["figures"], checks=data["checks"], path=path)


def load_all(folder: Path = RESULTS) -> dict[str, list[Run]]:
    """Every stored run by suite, oldest first (by start time, then file name)."""
    runs: dict[str, list[Run]] = {}
    for path in sorted(folder.glob("*.json")):
        run = read(path)
        runs.setdefault(run.suite, []).append(run)
    for suite in runs:
        runs[suite].sort(key=lambda r: (r.started, r.path.name if r.path else ""))
    return runs


def latest_two(runs: list[Run]) -> tuple[Run | None, Run | None]:
    """(latest, previous) of one suite's runs."""
    if not runs:
        return None, None
    return runs[-1], (runs[-2] if len(runs) > 1 else None)


def deltas(latest: Run, previous: Run | None) -> dict[str, tuple[Any, Any, float | None]]:
    """For every figure of the latest run: (now, before, relative change) — change is None when either is
    not a number, the figure is new, or the previous value is zero."""
    out: dict[str, tuple[Any, Any, float | None]] = {}
    before = previous.figures if previous else {}
    for name, now in sorted(latest.figures.items()):
        old = before.get(name)
        change = None
        if _num(now) and _num(old) and old != 0:
            change = (now - old) / abs(old)
        out[name] = (now, old, change)
    return out


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def format_delta(now: Any, old: Any, change: float | None) -> str:
    if old is None:
        return "new"
    if change is None:
        return "same" if now == old else f"was {old}"
    return f"{change:+.1%} (was {old})"


def print_deltas(latest: Run, previous: Run | None, out=sys.stdout, threshold: float = 0.01) -> None:
    """Print the figures that moved by at least `threshold` (relative), are new, or changed text."""
    if previous is None:
        print(f"no earlier {latest.suite} run to compare with", file=out)
        return
    print(f"change against the previous {latest.suite} run ({previous.started}):", file=out)
    steady = 0
    for name, (now, old, change) in deltas(latest, previous).items():
        if old is not None and (now == old or (change is not None and abs(change) < threshold)):
            steady += 1
            continue
        print(f"  {name:<44} {now!s:>14}  {format_delta(now, old, change)}", file=out)
    print(f"  ({steady} other figures within {threshold:.0%})", file=out)


# --------------------------------------------------------------------------- statistics


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks (numpy's default); 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))
