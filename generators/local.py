"""The local platform's process manager config: one supervisord program per model service.

Ports, start order (callees before callers) and simulated zone placement all come from the model.
Run-specific values (port offset, database, vhost, run directory) arrive as environment variables,
so the committed file holds no absolute path.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from model.schema import NetShopModel
from services.common.identity import local_placement

from .base import Artifact, header

ROOTS = ("local/",)
TRACE_PORT = 16686  # Jaeger-compatible query + OTLP/HTTP receiver
CONTROL_PORT = 8999
PROMETHEUS_PORT = 9090


def start_order(model: NetShopModel) -> list[tuple[int, str]]:
    """(depth, service): depth 0 calls nobody; a caller starts after everything it calls."""

    @cache
    def depth(name: str) -> int:
        callees = model.peers_of(name)
        return 0 if not callees else 1 + max(depth(c) for c in callees)

    return sorted((depth(s.name), s.name) for s in model.services)


def supervisord_conf(model: NetShopModel) -> str:
    zones = local_placement(model)
    run = "%(ENV_NETSHOP_RUN_DIR)s"
    out = [header(__name__, ";").rstrip("\n"), "; Started by `netshop up` (make up), which sets the NETSHOP_* variables.", ""]
    out += [
        "[supervisord]", f"logfile={run}/supervisord.log", f"pidfile={run}/supervisord.pid", "nodaemon=false", "silent=true",
        "minfds=4096", "",
        "[unix_http_server]", f"file={run}/supervisor.sock", "",
        "[supervisorctl]", f"serverurl=unix://{run}/supervisor.sock", "",
        "[rpcinterface:supervisor]", "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
    ]

    def program(name: str, command: str, priority: int, env: dict[str, str] | None = None, autostart: bool = True) -> list[str]:
        lines = [f"[program:{name}]", f"command={command}", f"priority={priority}", f"autostart={str(autostart).lower()}", "autorestart=true",
                 "startsecs=1", "startretries=10", "stopsignal=TERM", "stopwaitsecs=15", "stopasgroup=true", "killasgroup=true",
                 f"stdout_logfile={run}/{name}.log", "stdout_logfile_maxbytes=20MB", "stdout_logfile_backups=1", "redirect_stderr=true"]
        if env:
            lines.append("environment=" + ",".join(f'{k}="{v}"' for k, v in sorted(env.items())))
        return lines + [""]

    py = "%(ENV_NETSHOP_PYTHON)s"
    out += program("tracestore", f"{py} -m netshop.localproc tracestore {TRACE_PORT}", 10)
    for depth, name in start_order(model):
        out += program(name, f"{py} -m services serve", 100 + 10 * depth, {"NETSHOP_SERVICE": name, "NETSHOP_ZONE": zones[name]})
    out += program("agent", f"{py} -m netshop.localproc agent {CONTROL_PORT}", 900)
    # Started by `netshop up` only when Debian's prometheus is installed, with the SLO rules of generated/observability.
    out += program(
        "prometheus",
        "prometheus --config.file=%(ENV_NETSHOP_REPO)s/generated/observability/local/prometheus.yml "
        f"--storage.tsdb.path={run}/prometheus --web.listen-address=127.0.0.1:{PROMETHEUS_PORT} --log.level=warn",
        950, autostart=False,
    )
    return "\n".join(out)


def generate(model: NetShopModel) -> Iterator[Artifact]:
    yield Artifact("local/supervisord.conf", supervisord_conf(model))
