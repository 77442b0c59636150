"""`netshop`: validate and export the model, and generate every artifact from it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from model import ModelError, load_file
from model.inspections import inspect

app = typer.Typer(
    help="NetShop: one system model, every artifact generated from it.", no_args_is_help=True, pretty_exceptions_enable=False
)
model_app = typer.Typer(help="Validate and export the system model.", no_args_is_help=True)
app.add_typer(model_app, name="model")

# soft wrap: a `file:line` or a path must stay on one line for editors, CI logs and grep, whatever the width
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PathArg = Annotated[Path | None, typer.Argument(help="Model file (default: model/netshop.yaml or $NETSHOP_MODEL).")]


def _load_or_exit(path: Path | None, inspections: bool = True):
    """Load, validate and inspect; print every problem and exit 1 if there is any."""
    try:
        loaded = load_file(path)
    except ModelError as exc:
        _report(exc.problems)
        raise typer.Exit(1) from None
    if inspections:
        problems = inspect(loaded)
        if problems:
            _report(problems)
            raise typer.Exit(1)
    return loaded


def _report(problems) -> None:
    err.print(f"[bold red]{len(problems)} problem(s) in the model[/]")
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line else p.file
        err.print(f"[red]✗[/] {where}  [bold]{p.path}[/]  [dim]\\[{p.rule}][/]", highlight=False)
        err.print(f"    {p.message}", highlight=False, markup=False)
        err.print(f"    fix: {p.fix}", style="green", highlight=False, markup=False)


@model_app.command("validate")
def validate(path: PathArg = None) -> None:
    """Check the model against the schema and every inspection rule; exit 1 listing each violation."""
    loaded = _load_or_exit(path)
    m = loaded.model
    out.print(
        f"[green]✓[/] {loaded.file}: {len(m.services)} services, {len(m.datastores)} datastores, "
        f"{len(m.sync_edges)} sync edges, {len(m.all_data_edges)} data edges, {len(m.events)} events, "
        f"{len(m.flows)} flows — all inspections pass",
        highlight=False,
    )


@model_app.command("export")
def export(path: PathArg = None) -> None:
    """Print the model as JSON (services, datastores, edges, events) for other tools."""
    loaded = _load_or_exit(path)
    sys.stdout.write(json.dumps(loaded.model.export(), indent=2) + "\n")


@model_app.command("rules")
def rules() -> None:
    """List the inspection rules by id."""
    from model.inspections import RULES

    table = Table("rule", "what it checks")
    for rule_id, fn in RULES.items():
        table.add_row(rule_id, (fn.__doc__ or fn.__name__.replace("_", " ")).strip())
    out.print(table)


@app.command("generate")
def generate(
    only: Annotated[list[str] | None, typer.Option("--only", help="Generate one family (repeatable).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if generated/ differs from the model.")] = False,
    model_path: Annotated[Path | None, typer.Option("--model", help="Model file.")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Directory to write (default: generated/).")] = None,
) -> None:
    """Write generated/ from the model; with --check, only report drift (stale, missing, extra files)."""
    from netshop.pipeline import GENERATED, GeneratorError, fix_command, sync

    loaded = _load_or_exit(model_path)
    root = output or GENERATED
    shown = str(output).rstrip("/") if output else GENERATED.name
    try:
        drift = sync(loaded.model, root=root, only=only, write=not check)
    except GeneratorError as exc:
        err.print(f"[red]generator error:[/] {exc}")
        raise typer.Exit(2) from None
    changed = [("stale", p) for p in drift.stale] + [("missing", p) for p in drift.missing] + [("extra", p) for p in drift.extra]
    if check:
        if drift.clean:
            out.print(f"[green]✓[/] {shown}/ is current with the model", highlight=False)
            return
        err.print(f"{shown}/ has drifted from the model: {len(changed)} file(s)", style="bold red", highlight=False, markup=False)
        for state, p in changed:
            err.print(f"  {state:8} {shown}/{p}", highlight=False, markup=False)
        err.print(f"fix: {fix_command(only, model_path, output)}", highlight=False, markup=False)
        raise typer.Exit(1)
    for state, p in changed:
        verb = {"stale": "updated", "missing": "created", "extra": "removed"}[state]
        out.print(f"  {verb:8} {shown}/{p}", highlight=False, markup=False)
    out.print(f"[green]✓[/] {shown}/ is current ({len(changed)} file(s) changed)", highlight=False)


RunOpt = Annotated[int, typer.Option("--offset", help="Add this to every port (run a second platform beside the first).")]


def _run(offset: int, **kw):
    from netshop.local import REPO, Run

    run_dir = REPO / ".netshop" / ("run" if offset == 0 else f"run-{offset}")
    return Run(offset=offset, run_dir=run_dir, **kw)


@app.command("up")
def up(
    offset: RunOpt = 0,
    faults: Annotated[bool, typer.Option("--faults", help="Expose /_ops/faults on every service.")] = False,
    identity: Annotated[bool, typer.Option("--service-identity", help="Require signed service tokens on east/west calls.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every service to be ready.")] = 120.0,
) -> None:
    """Start every service locally (supervisord), on the real datastores, and print the URLs."""
    from netshop import local

    run = _run(offset, fault_injection=faults, service_identity=identity)
    try:
        ready = local.up(run, timeout=timeout)
    except Exception as exc:
        err.print(f"[red]could not start the platform:[/] {exc}")
        raise typer.Exit(1) from None
    _print_status(run)
    web = local.load_model().platform.ingress.service
    model = local.load_model()
    out.print(f"\nShop:      {run.url(model, web)}  (console: /console, platform: /platform)")
    out.print(f"API:       {run.url(model, 'api-gateway')}/api/products   (OpenAPI: <service url>/docs)")
    out.print(f"Traces:    {run.env()['NETSHOP_TRACE_QUERY_URL']}/api/traces   Control: {run.env()['NETSHOP_CONTROL_URL']}/state")
    state = json.loads(run.state_file.read_text())
    if state.get("prometheus"):
        out.print(f"Prometheus: {state['prometheus']}")
    out.print(f"Logs:      {run.run_dir}/<service>.log      Stop: make down")
    if not all(ready.values()):
        err.print(f"[red]not ready:[/] {', '.join(n for n, ok in ready.items() if not ok)}")
        raise typer.Exit(1)


@app.command("down")
def down(offset: RunOpt = 0) -> None:
    """Stop the local platform."""
    from netshop import local

    stopped = local.down(_run(offset))
    out.print("[green]✓[/] stopped" if stopped else "nothing was running")


def _print_status(run) -> bool:
    import asyncio

    from netshop import local

    rows = asyncio.run(local.status(run))
    table = Table("service", "tier", "zone", "url", "live", "ready", "detail", title="NetShop (local runner)")
    for r in rows:
        table.add_row(r["service"], r["tier"], r["zone"], r["url"], "✓" if r["live"] else "✗", "✓" if r["ready"] else "✗", r["detail"])
    out.print(table)
    return all(r["ready"] for r in rows if r["detail"] != "not implemented")


@app.command("status")
def status(offset: RunOpt = 0) -> None:
    """Each service with its zone, URL and health; exit 1 unless all are ready."""
    if not _print_status(_run(offset)):
        raise typer.Exit(1)


@app.command("chaos")
def chaos(
    checkouts: Annotated[int, typer.Option(help="Checkouts to place.")] = 500,
    concurrency: Annotated[int, typer.Option(help="Shoppers checking out at once.")] = 24,
    duration: Annotated[float, typer.Option(help="Seconds over which the faults are spread.")] = 120.0,
    restart: Annotated[str, typer.Option(help="App service to restart mid-run.")] = "orders",
    results: Annotated[Path, typer.Option(help="Folder for the chaos-<timestamp>.json result.")] = Path("bench/results"),
    keep: Annotated[bool, typer.Option("--keep", help="Leave the chaos platform running afterwards.")] = False,
) -> None:
    """Fault injection: checkouts under faults on a fresh local platform, then every invariant; exit 1 on any violation."""
    import asyncio
    import shutil
    import tempfile
    from datetime import UTC, datetime

    from netshop import chaos as ch

    plan = ch.Plan(checkouts=checkouts, concurrency=concurrency, duration=duration, restart_service=restart or None)
    run_dir = Path(tempfile.mkdtemp(prefix="ns-chaos-", dir="/tmp"))  # supervisord's socket path must stay short
    out.print(f"starting a fault-injection platform (logs in {run_dir}) ...")
    platform = ch.start_platform(run_dir)
    try:
        report = asyncio.run(ch.run_chaos(platform, plan, say=out.print))
    finally:
        if not keep:
            ch.stop_platform(platform)
    ch.print_report(report, out)
    doc = ch.result_document(report, "make chaos")
    results.mkdir(parents=True, exist_ok=True)
    target = results / f"chaos-{datetime.fromtimestamp(report.started, UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    target.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    out.print(f"results: {target}")
    if not report.passed:
        err.print(f"[red]chaos: invariants violated; platform logs kept in {run_dir}[/]")
        raise typer.Exit(1)
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    out.print("[green]✓[/] zero lost or duplicated effects")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
