"""Load and footprint of the whole local platform: `make bench` (or `make bench BENCH_ARGS=--soak`).

    .venv/bin/python bench/load.py [--quick | --soak] [--users N] [--journey-s S] [--concurrency C] [--no-save]

Starts its own platform (own port offset, database, vhost and key prefix), measures start-up time to
all-ready, then runs the phases of netshop/bench.py side by side: gateway vs direct call, the raw
PostgreSQL + confirmed-publish limit and the checkout saga at the same concurrency, order.created
fan-out lag at 50 orders/s, and the weighted user journey from the model's flows with the platform's
peak memory. Prints figures and ratios against the targets, stores bench/results/load-<stamp>.json
and prints the change against the previous run. Exits 1 if a target is missed.

The machine may be shared: every comparison here is measured within the same run, and the load
average is recorded with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model import load_model  # noqa: E402
from netshop import bench, local, results  # noqa: E402


def parse(argv: list[str]) -> tuple[argparse.Namespace, bench.Options]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short phases (about a minute in all, for tests)")
    mode.add_argument("--soak", action="store_true", help="100 concurrent users for 5 minutes, plus the other phases")
    ap.add_argument("--users", type=int, help="concurrent users in the journey")
    ap.add_argument("--journey-s", type=float, help="journey duration in seconds")
    ap.add_argument("--concurrency", type=int, help="shoppers in the checkout phase (and the raw loop's concurrency)")
    ap.add_argument("--trace-ratio", type=float, default=1.0,
                    help="share of traces sampled (OTEL_TRACES_SAMPLER=parentbased_traceidratio); 1.0 = as `make up` runs")
    ap.add_argument("--no-save", action="store_true", help="print only; do not store bench/results/load-*.json")
    ap.add_argument("--results", type=Path, default=results.RESULTS, help="where results are stored")
    ap.add_argument("--keep-logs", type=Path, help="copy the platform's logs here afterwards")
    args = ap.parse_args(argv)
    opts = bench.Options.quick() if args.quick else bench.Options.soak_run() if args.soak else bench.Options()
    if args.users:
        opts.users = args.users
    if args.journey_s:
        opts.journey_s = args.journey_s
    if args.concurrency:
        opts.checkout_concurrency = args.concurrency
    return args, opts


def command_line(args: argparse.Namespace) -> str:
    extra = [a for a in ("--soak" if args.soak else "", "--quick" if args.quick else "",
                         f"--trace-ratio {args.trace_ratio:g}" if args.trace_ratio < 1.0 else "") if a]
    joined = " ".join(extra)
    return "make bench" + (f" BENCH_ARGS='{joined}'" if " " in joined else f" BENCH_ARGS={joined}" if joined else "")


def report(fig: dict, checks: list[results.Check]) -> None:
    p = print
    p("")
    p(f"start-up to all-ready      {fig['startup_s']:.1f} s ({fig['platform_processes']} processes)")
    p(f"platform memory            RSS {fig['platform_rss_gib']:.2f} GiB peak (idle {fig['platform_rss_idle_gib']:.2f}), "
      f"PSS {fig['platform_pss_gib']:.2f} GiB; {fig['platform_rss_vs_target']:.0%} of the 1.5 GiB target")
    p(f"gateway vs direct          p50 {fig['gateway_p50_ms']:.2f} vs {fig['direct_p50_ms']:.2f} ms: +{fig['gateway_overhead_p50_ms']:.2f} ms "
      f"({fig['gateway_vs_direct_p50_ratio']:.2f}x); p95 +{fig['gateway_overhead_p95_ms']:.2f} ms")
    p(f"raw limit (PG tx + confirm) {fig['raw_per_s']:.0f}/s at concurrency {fig['checkout_concurrency']} (p50 {fig['raw_p50_ms']:.1f} ms)")
    p(f"checkout saga              {fig['checkout_per_s']:.1f}/s (p50 {fig['checkout_p50_ms']:.0f} ms, p95 {fig['checkout_p95_ms']:.0f} ms, "
      f"errors {fig['checkout_error_rate']:.2%}) = {fig['checkout_vs_raw']:.1%} of raw")
    p(f"  untraced                 {fig['checkout_untraced_per_s']:.1f}/s (p50 {fig['checkout_untraced_p50_ms']:.0f} ms) = "
      f"{fig['checkout_untraced_vs_raw']:.1%} of raw; tracing every request costs {1 - 1 / fig['tracing_cost_ratio']:.0%} "
      "of checkout throughput" if fig["tracing_cost_ratio"] else "  untraced                 no checkout completed")
    p(f"order.created fan-out      {fig['fanout_events']} events at {fig['fanout_rate_per_s']:.0f}/s: lag p50 {fig['fanout_lag_p50_ms']:.0f} ms, "
      f"p95 {fig['fanout_lag_p95_ms']:.0f} ms (slowest worker mostly {fig['fanout_slowest_worker']}), missing {fig['fanout_missing']}")
    p(f"journey                    {fig['journey_users']} users for {fig['journey_seconds']:g} s, errors {fig['journey_errors']}"
      + (f" ({fig['journey_error_kinds']})" if fig["journey_errors"] else ""))
    p(f"  {'step':<14}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>9}")
    for step in [s.name for s in bench.JOURNEY] + ["all"]:
        k = f"journey_{step}_"
        p(f"  {step:<14}{fig[k + 'per_s']:>9.1f}{fig[k + 'p50_ms']:>9.1f}{fig[k + 'p95_ms']:>9.1f}{fig[k + 'p99_ms']:>9.1f}"
          f"{fig[k + 'error_rate']:>9.2%}")
    p(f"machine load average (1 min) {fig['machine_load_avg_1m_before']} before, {fig['machine_load_avg_1m_after']} after "
      "(a shared machine makes every absolute figure noisy; ratios are measured side by side)")
    p("")
    for c in checks:
        p(f"  [{'pass' if c.passed else 'MISS'}] {c.name}: {c.value} (target {c.target})")


def main(argv: list[str]) -> int:
    import os

    args, opts = parse(argv)
    model = load_model()
    bench.journey_from_model(model)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    run_dir = Path(tempfile.mkdtemp(prefix="netshop-bench-"))
    sampling = {} if args.trace_ratio >= 1.0 else {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                                   "OTEL_TRACES_SAMPLER_ARG": str(args.trace_ratio)}
    run = bench.bench_run(run_dir, sampling)
    load_before = round(os.getloadavg()[0], 2)
    measured = False
    print(f"starting a bench platform at port offset {run.offset} (logs in {run_dir})")
    try:
        s0 = time.perf_counter()
        ready = local.up(run, timeout=180)
        startup = time.perf_counter() - s0
        missing = [n for n, ok in ready.items() if not ok]
        if missing:
            raise SystemExit(f"platform not ready after {startup:.0f} s: {missing}; logs in {run_dir}")
        print(f"all {len(ready)} services ready in {startup:.1f} s")
        fig = asyncio.run(bench.measure(run, opts))
        measured = True
    finally:
        local.down(run)
        asyncio.run(local.drop_datastores(run, model))
        if args.keep_logs:
            shutil.copytree(run_dir, args.keep_logs, dirs_exist_ok=True)
        if measured:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"the platform's logs stay in {run_dir}")
    fig["startup_s"] = round(startup, 2)
    fig["checkout_concurrency"] = opts.checkout_concurrency
    fig["machine_load_avg_1m_before"] = load_before
    fig["mode"] = "soak" if opts.soak else "quick" if args.quick else "standard"
    fig["trace_sample_ratio"] = min(1.0, args.trace_ratio)
    checks = bench.checks(fig, opts)
    report(fig, checks)
    if not args.no_save:
        previous = results.load_all(args.results).get("load", [])
        path = results.write("load", command_line(args), started, time.perf_counter() - t0, fig, checks, folder=args.results)
        print(f"\nstored {path.relative_to(results.REPO) if path.is_relative_to(results.REPO) else path}")
        comparable = [r for r in previous if r.figures.get("mode") == fig["mode"]
                      and r.figures.get("trace_sample_ratio", 1.0) == fig["trace_sample_ratio"]]
        results.print_deltas(results.read(path), comparable[-1] if comparable else None)
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
