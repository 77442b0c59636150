"""The platform as `make up` starts it, isolated for a test session: its own port offset, database,
vhost and Redis key prefix; RabbitMQ reached through a FaultProxy so tests can cut the broker."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from model import load_model
from model.schema import NetShopModel
from netshop import local
from tcpproxy import FaultProxy


@dataclass
class TestPlatform:
    run: local.Run
    model: NetShopModel
    broker: FaultProxy
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.run.url(self.model, service)

    def client(self, service: str) -> httpx.Client:
        if service not in self.clients:
            self.clients[service] = httpx.Client(base_url=self.url(service), timeout=15)
        return self.clients[service]

    @property
    def gateway(self) -> httpx.Client:
        return self.client("api-gateway")

    @property
    def trace_url(self) -> str:
        return f"http://127.0.0.1:{16686 + self.run.offset}"

    def user(self, name: str = "shopper") -> dict:
        """Register and log in a fresh customer; returns email, password, id and auth headers."""
        email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
        password = "a long enough password"
        reg = self.gateway.post("/api/auth/register", json={"email": email, "password": password, "name": name.title()})
        assert reg.status_code == 201, reg.text
        tok = self.gateway.post("/api/auth/login", json={"email": email, "password": password})
        assert tok.status_code == 200, tok.text
        return {"email": email, "password": password, "id": reg.json()["id"], "token": tok.json()["access_token"],
                "headers": {"Authorization": f"Bearer {tok.json()['access_token']}"}}

    def fault(self, service: str, point: str, mode: str = "fail", **kw) -> None:
        r = self.client(service).put("/_ops/faults", json={"point": point, "mode": mode, **kw})
        assert r.status_code == 200, r.text

    def clear_faults(self) -> None:
        for s in self.model.services:
            if local.implemented(s.name):
                self.client(s.name).delete("/_ops/faults")

    def eventually(self, check, timeout: float = 10.0, interval: float = 0.2):
        """Poll `check()` until it returns a truthy value; return it, or fail with the last value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def start(tmp_root: Path, *, service_identity: bool = False) -> TestPlatform:
    model = load_model()
    tag = f"t{os.getpid()}" + ("s" if service_identity else "")  # a second platform in one session gets its own stores
    rabbit = next(d for d in model.datastores if d.kind == "rabbitmq")
    broker = FaultProxy(rabbit.port)
    run = local.Run(
        offset=local.reserve_offset(model), database=f"netshop_test_{tag}", vhost=f"netshop_test_{tag}", key_prefix=f"nstest-{tag}",
        run_dir=tmp_root, fault_injection=True, service_identity=service_identity,
        extra_env={f"NETSHOP_{rabbit.name.upper()}_URL": f"amqp://guest:guest@127.0.0.1:{broker.port}/netshop_test_{tag}"},
    )
    ready = local.up(run, timeout=120)
    missing = [n for n, ok in ready.items() if not ok]
    if missing:
        local.down(run)
        raise RuntimeError(f"test platform not ready: {missing}; logs in {tmp_root}")
    return TestPlatform(run=run, model=model, broker=broker)


def stop(p: TestPlatform) -> None:
    import asyncio

    for c in p.clients.values():
        c.close()
    local.down(p.run)
    p.broker.close()
    asyncio.run(local.drop_datastores(p.run, p.model))
