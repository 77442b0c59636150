"""The load bench and the Verification page: statistics, result files, comparison, page rendering, and one short
bounded bench run against a real platform."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from model import load_model
from netshop import bench, results, verification

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- statistics


def test_percentile_interpolates_between_closest_ranks():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert results.percentile(values, 50) == pytest.approx(50.5)
    assert results.percentile(values, 95) == pytest.approx(95.05)
    assert results.percentile(values, 99) == pytest.approx(99.01)
    assert results.percentile(values, 0) == 1.0 and results.percentile(values, 100) == 100.0
    assert results.percentile([7.0], 99) == 7.0
    assert results.percentile([], 50) == 0.0
    assert results.percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of arrival does not matter


def test_samples_summary_counts_errors_in_the_rate_and_not_in_throughput():
    s = bench.Samples()
    for ms in (10, 20, 30, 40):
        s.ok(ms / 1000)
    s.fail("GET /x -> 500")
    summary = s.summary(wall_s=2.0)
    assert summary["requests"] == 5
    assert summary["per_s"] == 2.0  # successes only
    assert summary["error_rate"] == 0.2
    assert summary["p50_ms"] == 25.0  # between 20 and 30
    assert dict(s.error_kinds) == {"GET /x -> 500": 1}


def test_checks_compare_against_their_bounds():
    assert results.at_least("r", 0.3, 0.3).passed and not results.at_least("r", 0.29, 0.3).passed
    assert results.at_most("o", 2.0, 2.0, " ms").passed and not results.at_most("o", 2.01, 2.0).passed
    assert not results.below("m", 1.5, 1.5).passed
    assert results.equals("e", 0, 0).passed and not results.equals("e", 1, 0).passed
    assert results.at_most("o", 2.0, 2.0, " ms").target == "<= 2.0 ms"


def test_journey_steps_come_from_the_models_flows():
    steps = bench.journey_from_model(load_model())
    assert [s.name for s in steps] == ["browse", "search", "product_page", "add_to_cart", "checkout"]
    assert {s.flow for s in steps} <= {f.name for f in load_model().flows}


def test_a_journey_step_naming_a_missing_flow_is_refused(monkeypatch):
    broken = (bench.Step("browse", "no-such-flow", 1, (("GET", "/api/products"),)),)
    monkeypatch.setattr(bench, "JOURNEY", broken)
    with pytest.raises(ValueError, match="no-such-flow"):
        bench.journey_from_model(load_model())


# --------------------------------------------------------------------------- result files and comparison


def _store(folder: Path, day: int, figures: dict, checks: list, suite: str = "load") -> Path:
    return results.write(suite, "make bench", datetime(2026, 1, day, 12, 0, tzinfo=UTC), 10.0, figures, checks, folder=folder)


def test_results_are_written_in_the_shared_shape(tmp_path):
    path = _store(tmp_path, 1, {"checkout_per_s": 20.5, "mode": "standard"}, [results.at_least("ratio", 0.2, 0.3)])
    assert path.name == "load-20260101T120000Z.json"
    data = json.loads(path.read_text())
    assert set(data) == {"suite", "command", "started", "duration_s", "machine", "figures", "checks"}
    assert data["machine"]["cores"] >= 1 and data["machine"]["python"]
    assert data["checks"] == [{"name": "ratio", "value": 0.2, "target": ">= 0.3", "pass": False}]
    assert path.read_text() == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_a_file_outside_the_shared_shape_is_named_with_the_missing_key(tmp_path):
    (tmp_path / "chaos-x.json").write_text(json.dumps({"suite": "chaos", "command": "make chaos", "started": "x", "checks": []}))
    with pytest.raises(results.ResultError, match="chaos-x.json: missing key 'figures'"):
        results.load_all(tmp_path)


def test_latest_run_is_compared_with_the_previous_one(tmp_path):
    _store(tmp_path, 1, {"rate": 100.0, "name": "a", "zero": 0}, [])
    _store(tmp_path, 2, {"rate": 150.0, "name": "b", "zero": 1, "fresh": 3}, [])
    latest, previous = results.latest_two(results.load_all(tmp_path)["load"])
    d = results.deltas(latest, previous)
    assert d["rate"] == (150.0, 100.0, pytest.approx(0.5))
    assert d["name"] == ("b", "a", None)
    assert d["zero"] == (1, 0, None)  # no relative change from zero
    assert d["fresh"] == (3, None, None)
    assert results.format_delta(*d["rate"]) == "+50.0% (was 100.0)"
    assert results.format_delta(*d["fresh"]) == "new"


# --------------------------------------------------------------------------- the Verification page


def test_verification_page_renders_pass_miss_command_machine_and_delta(tmp_path):
    _store(tmp_path, 1, {"gateway_overhead_p50_ms": 3.0}, [results.at_most("gateway overhead p50", 3.0, 2.0, " ms")])
    _store(tmp_path, 2, {"gateway_overhead_p50_ms": 1.5, "checkout_vs_raw": 0.05},
           [results.at_most("gateway overhead p50", 1.5, 2.0, " ms"), results.at_least("checkout throughput / raw limit", 0.05, 0.3)])
    results.write("chaos", "make chaos", datetime(2026, 1, 3, tzinfo=UTC), 300.0, {"checkouts": 500},
                  [results.equals("lost effects", 0, 0)], folder=tmp_path)
    page = verification.render(results.load_all(tmp_path))
    assert page.startswith("<!-- DO NOT EDIT — generated by netshop.verification")
    assert "| checkout throughput / raw limit | 0.05 | >= 0.3 | **MISS** | — |" in page
    assert "| gateway overhead p50 | 1.5 | <= 2.0 ms | pass | 3 (miss) |" in page
    assert "| `gateway_overhead_p50_ms` | 1.5 | 3 | -50.0% |" in page
    assert "**1 of 2 checks miss**" in page
    assert "`make bench`" in page and "`make chaos`" in page
    assert "2026-01-02T12:00:00+00:00" in page and " cores" in page
    assert "## Fault injection (`chaos`)" in page and "| lost effects | 0 | == 0 | pass |" in page
    assert "## Bad input and security (`security`)" in page and "No run stored yet" in page
    assert verification.render(results.load_all(tmp_path)) == page  # same inputs, same bytes


def test_each_command_of_a_suite_is_shown_and_compared_on_its_own(tmp_path):
    _store(tmp_path, 1, {"journey_errors": 0}, [results.equals("journey errors", 0, 0)])
    results.write("load", "make bench BENCH_ARGS=--soak", datetime(2026, 1, 2, tzinfo=UTC), 400.0, {"journey_errors": 3},
                  [results.equals("journey errors", 3, 0)], folder=tmp_path)
    _store(tmp_path, 3, {"journey_errors": 0}, [results.equals("journey errors", 0, 0)])
    page = verification.render(results.load_all(tmp_path))
    soak = page.split("### `make bench BENCH_ARGS=--soak`")[1]
    assert "| journey errors | 3 | == 0 | **MISS** | — |" in soak and "no earlier run of this command" in soak
    standard = page.split("### `make bench`")[1].split("###")[0]
    assert "| journey errors | 0 | == 0 | pass | 0 (pass) |" in standard
    assert "| Load and footprint | `make bench BENCH_ARGS=--soak` | 2026-01-02T00:00:00+00:00 | 0/1 pass, 1 **MISS** |" in page


def test_verify_report_check_mode_spots_a_stale_page(tmp_path):
    _store(tmp_path, 1, {"x": 1}, [])
    out = tmp_path / "verification.md"
    assert verification.main(["--results", str(tmp_path), "--out", str(out)]) == 0
    assert verification.main(["--results", str(tmp_path), "--out", str(out), "--check"]) == 0
    _store(tmp_path, 2, {"x": 2}, [])
    assert verification.main(["--results", str(tmp_path), "--out", str(out), "--check"]) == 1


def test_committed_verification_page_matches_the_committed_results():
    assert verification.main(["--check"]) == 0, "run `make verify-report`"


# --------------------------------------------------------------------------- a short real run


@pytest.mark.platform
def test_quick_bench_run_stores_every_figure(tmp_path):
    """A bounded bench (its own platform, ~1 minute of phases) writes a results file with every figure and check."""
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "load.py"), "--quick", "--results", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert "stored" in proc.stdout, proc.stdout + proc.stderr
    stored = list(tmp_path.glob("load-*.json"))
    assert len(stored) == 1
    run = results.read(stored[0])
    f = run.figures
    for name in ("startup_s", "platform_rss_gib", "platform_pss_gib", "gateway_overhead_p50_ms", "direct_p50_ms", "raw_per_s",
                 "checkout_per_s", "checkout_vs_raw", "fanout_lag_p95_ms", "fanout_events", "journey_errors"):
        assert isinstance(f[name], (int, float)), name
    for step in ("browse", "search", "product_page", "add_to_cart", "checkout", "all"):
        for k in ("per_s", "p50_ms", "p95_ms", "p99_ms", "error_rate"):
            assert f"journey_{step}_{k}" in f
    assert f["raw_per_s"] > 0 and f["checkout_per_s"] > 0 and f["journey_all_requests"] > 0
    assert f["fanout_events"] == 150 and f["fanout_missing"] == 0
    assert 0 < f["startup_s"] < 180 and f["platform_processes"] >= 15
    assert {c["name"] for c in run.checks} >= {"checkout throughput / raw limit", "gateway overhead p50"}
    # the exit code is the verdict of the checks
    assert proc.returncode == (0 if run.passed else 1)
    assert "checkout saga" in proc.stdout and "of raw" in proc.stdout
