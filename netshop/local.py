"""The local platform: every model service as a process under supervisord, on real PostgreSQL, Redis
and RabbitMQ. `netshop up` / `netshop down` / `netshop status` (and `make up` / `make down`).

A run is isolated by a port offset, its own database, vhost and Redis key prefix, so tests start
their own platform next to a developer's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import asyncpg

from generators.local import CONTROL_PORT, PROMETHEUS_PORT, TRACE_PORT, start_order
from model import load_model
from model.schema import NetShopModel
from services.common.identity import local_placement

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "generated" / "local" / "supervisord.conf"


@dataclass
class Run:
    """What makes one local platform distinct from another on the same machine."""

    offset: int = 0
    database: str = "netshop"
    vhost: str = "netshop"
    key_prefix: str = "netshop"
    run_dir: Path = REPO / ".netshop" / "run"
    fault_injection: bool = False
    service_identity: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "NETSHOP_RUN_DIR": str(self.run_dir),
            "NETSHOP_RUN_STATE": str(self.run_dir / "state.json"),
            "NETSHOP_PYTHON": sys.executable,
            "NETSHOP_REPO": str(REPO),
            "NETSHOP_PORT_OFFSET": str(self.offset),
            "NETSHOP_POSTGRES_DATABASE": self.database,
            "NETSHOP_RABBITMQ_VHOST": self.vhost,
            "NETSHOP_KEY_PREFIX": self.key_prefix,
            "NETSHOP_FAULT_INJECTION": str(self.fault_injection).lower(),
            "NETSHOP_SERVICE_IDENTITY": str(self.service_identity).lower(),
            "NETSHOP_TRACE_QUERY_URL": f"http://127.0.0.1:{TRACE_PORT + self.offset}",
            "NETSHOP_CONTROL_URL": f"http://127.0.0.1:{CONTROL_PORT + self.offset}",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{TRACE_PORT + self.offset}",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "PYTHONPATH": str(REPO),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        })
        env.update(self.extra_env)
        return env

    def url(self, model: NetShopModel, service: str) -> str:
        return f"http://127.0.0.1:{model.service_by_name[service].port + self.offset}"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"


_reserved: list = []  # lock files of the offsets this process holds, kept open until it exits


def reserve_offset(model: NetShopModel | None = None) -> int:
    """A port offset at which every platform port is free, held with a lock file for the life of this
    process so concurrent platforms (tests, bench, chaos, other checkouts) never pick the same one.
    Offsets that keep the services' ports below the kernel's ephemeral range come first: outgoing
    connections of other platforms take ports from that range and can make a service's bind fail."""
    import fcntl
    import socket

    model = model or load_model()
    service_ports = [s.port for s in model.services]
    ports = service_ports + [TRACE_PORT, CONTROL_PORT]
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    offsets = sorted((20000 + 300 * k for k in range(120)), key=lambda o: (max(service_ports) + o >= ephemeral, o))
    for offset in offsets:
        lock = open(f"/tmp/netshop-offset-{offset}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        with_free = []
        for port in ports:
            with socket.socket() as probe:
                with_free.append(probe.connect_ex(("127.0.0.1", port + offset)) != 0)
        if all(with_free):
            _reserved.append(lock)
            return offset
        lock.close()
    raise RuntimeError("no free port offset for a local platform")


def implemented(service: str) -> bool:
    try:
        return importlib.util.find_spec(f"services.{service.replace('-', '_')}.app") is not None
    except ModuleNotFoundError:
        return False


# --------------------------------------------------------------------------- datastores


async def prepare_datastores(run: Run, model: NetShopModel) -> None:
    """Create the run's database and vhost if missing (Redis needs only the key prefix)."""
    pg = next((d for d in model.datastores if d.kind == "postgres"), None)
    if pg is not None:
        conn = await asyncpg.connect(host="127.0.0.1", port=pg.port, user="postgres", database="postgres")
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", run.database):
                await conn.execute(f'CREATE DATABASE "{run.database}"')
        finally:
            await conn.close()
    if any(d.kind == "rabbitmq" for d in model.datastores):
        rabbitmqctl("add_vhost", run.vhost, ok_if="already_exists")
        rabbitmqctl("set_permissions", "-p", run.vhost, "guest", ".*", ".*", ".*")


def rabbitmqctl(*args: str, ok_if: str | None = None) -> None:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    proc = subprocess.run([exe, "-q", *args], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 and not (ok_if and ok_if in (proc.stdout + proc.stderr)):
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")


async def drop_datastores(run: Run, model: NetShopModel) -> None:
    """Remove what a run created (tests clean up after themselves)."""
    import redis.asyncio as redis

    pg = next((d for d in model.datastores if d.kind == "postgres"), None)
    if pg is not None and run.database != "netshop":
        conn = await asyncpg.connect(host="127.0.0.1", port=pg.port, user="postgres", database="postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{run.database}" WITH (FORCE)')
        finally:
            await conn.close()
    if run.vhost != "netshop" and any(d.kind == "rabbitmq" for d in model.datastores):
        rabbitmqctl("delete_vhost", run.vhost, ok_if="does not exist")
    rd = next((d for d in model.datastores if d.kind == "redis"), None)
    if rd is not None and run.key_prefix != "netshop":
        client = redis.Redis(host="127.0.0.1", port=rd.port)
        try:
            async for key in client.scan_iter(match=f"{run.key_prefix}:*", count=1000):
                await client.delete(key)
        finally:
            await client.aclose()


# --------------------------------------------------------------------------- processes


def supervisorctl(run: Run, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "supervisorctl"
    return subprocess.run([str(exe), "-c", str(CONF), *args], env=run.env(), capture_output=True, text=True, timeout=60)


def running(run: Run) -> bool:
    pidfile = run.run_dir / "supervisord.pid"
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


async def wait_ready(run: Run, model: NetShopModel, timeout: float) -> dict[str, bool]:
    """Poll /readyz of every implemented service, in start order, until all answer 200 or time runs out."""
    names = [n for _, n in start_order(model) if implemented(n)]
    ready = {n: False for n in names}
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
        while time.monotonic() < deadline and not all(ready.values()):
            for n in names:
                if ready[n]:
                    continue
                try:
                    async with session.get(run.url(model, n) + "/readyz") as r:
                        ready[n] = r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    pass
            if not all(ready.values()):
                await asyncio.sleep(0.3)
    return ready


def up(run: Run, timeout: float = 120.0) -> dict[str, bool]:
    """Start the platform (idempotent) and wait until every service is ready."""
    model = load_model()
    run.run_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(prepare_datastores(run, model))
    started = time.time()
    if not running(run):
        exe = Path(sys.executable).parent / "supervisord"
        proc = subprocess.run([str(exe), "-c", str(CONF)], env=run.env(), capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(f"supervisord did not start: {proc.stderr or proc.stdout}")
    for name in (s.name for s in model.services):
        if not implemented(name):
            supervisorctl(run, "stop", name)
    # Prometheus scrapes the model's ports as they are, so only the un-offset platform gets it.
    prometheus = run.offset == 0 and shutil.which("prometheus") is not None
    if prometheus:
        supervisorctl(run, "start", "prometheus")
    run.state_file.write_text(json.dumps({
        "started_at": started, "runner": "supervisord", "run": {k: str(v) for k, v in asdict(run).items()},
        "zones": local_placement(model),
        "urls": {s.name: run.url(model, s.name) for s in model.services},
        "prometheus": f"http://127.0.0.1:{PROMETHEUS_PORT}" if prometheus else None,
    }, indent=2))
    ready = asyncio.run(wait_ready(run, model, timeout))
    ready_at = time.time()
    state = json.loads(run.state_file.read_text())
    state["ready_seconds"] = round(ready_at - started, 2)
    run.state_file.write_text(json.dumps(state, indent=2))
    return ready


def down(run: Run, timeout: float = 30.0) -> bool:
    """Stop every process of the run; True if something was running."""
    pidfile = run.run_dir / "supervisord.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    return True


async def status(run: Run) -> list[dict]:
    model = load_model()
    zones = local_placement(model)
    rows = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.5)) as session:
        for _, name in start_order(model):
            row = {"service": name, "tier": model.service_by_name[name].tier, "zone": zones[name],
                   "url": run.url(model, name), "live": False, "ready": False, "detail": ""}
            if not implemented(name):
                row["detail"] = "not implemented"
            else:
                try:
                    async with session.get(row["url"] + "/healthz") as r:
                        row["live"] = r.status == 200
                    async with session.get(row["url"] + "/readyz") as r:
                        row["ready"] = r.status == 200
                        if r.status != 200:
                            row["detail"] = (await r.json()).get("detail", "")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    row["detail"] = f"down ({type(exc).__name__})"
            rows.append(row)
    return rows
