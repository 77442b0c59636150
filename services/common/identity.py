"""Who this process is, resolved from the model: its service, port, zone, peers, datastores and queues."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, urlsplit, urlunsplit

from model import load_model
from model.schema import Datastore, NetShopModel, Service

from .settings import Settings


def local_placement(model: NetShopModel) -> dict[str, str]:
    """Simulated zone of each service on a laptop: round-robin across zones within each tier."""
    zones = [z.name for z in model.platform.zones]
    placement: dict[str, str] = {}
    for tier in model.platform.tiers:
        members = [s.name for s in model.services if s.tier == tier.name]
        for i, name in enumerate(members):
            placement[name] = zones[i % len(zones)]
    return placement


@dataclass
class Identity:
    """A service's view of itself and the platform."""

    model: NetShopModel
    service: Service
    settings: Settings

    @classmethod
    def load(cls, settings: Settings | None = None) -> Identity:
        settings = settings or Settings()  # type: ignore[call-arg]
        model = load_model(settings.model)
        service = model.service_by_name.get(settings.service)
        if service is None:
            raise SystemExit(f"NETSHOP_SERVICE={settings.service!r} is not a service of the model")
        return cls(model=model, service=service, settings=settings)

    @property
    def name(self) -> str:
        return self.service.name

    @cached_property
    def zone(self) -> str:
        return self.settings.zone or local_placement(self.model).get(self.name, "unknown")

    @property
    def port(self) -> int:
        return self.service.port + (self.settings.port_offset if self.settings.runtime == "local" else 0)

    @cached_property
    def instance(self) -> str:
        return self.settings.pod or f"{self.name}-{self.zone}-{os.getpid()}"

    def peer_base_url(self, peer: str) -> str:
        """Cluster DNS in Kubernetes, loopback ports on a laptop."""
        svc = self.model.service_by_name[peer]
        if self.settings.runtime == "kubernetes":
            return f"http://{peer}.{self.model.platform.namespace}.svc.cluster.local:{svc.port}"
        return f"http://127.0.0.1:{svc.port + self.settings.port_offset}"

    @cached_property
    def datastores(self) -> list[Datastore]:
        return self.model.datastores_of(self.name)

    def datastore(self, kind: str) -> Datastore | None:
        return next((d for d in self.datastores if d.kind == kind), None)

    def datastore_url(self, ds: Datastore) -> str:
        """`NETSHOP_<NAME>_URL` (+ `_PASSWORD`) when set, else the local server on the model's port."""
        env = ds.name.upper().replace("-", "_")
        url = os.environ.get(f"NETSHOP_{env}_URL")
        if url is None:
            s = self.settings
            url = {
                "postgres": f"postgresql://postgres@127.0.0.1:{ds.port}/{s.postgres_database}",
                "redis": f"redis://127.0.0.1:{ds.port}/0",
                "rabbitmq": f"amqp://guest:guest@127.0.0.1:{ds.port}/{quote(s.rabbitmq_vhost, safe='')}",
            }[ds.kind]
        password = os.environ.get(f"NETSHOP_{env}_PASSWORD")
        if password:
            parts = urlsplit(url)
            user = parts.username or ""
            host = parts.hostname or ""
            netloc = f"{user}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
            if ds.kind == "redis" and not user:
                netloc = f":{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
            url = urlunsplit(parts._replace(netloc=netloc))
        return url

    @property
    def schema(self) -> str:
        """PostgreSQL schema this service owns."""
        return self.name.replace("-", "_")

    def key(self, *parts: str) -> str:
        """A Redis key in this service's namespace."""
        return ":".join((self.settings.key_prefix, self.name, *parts))

    def foreign_key(self, owner: str, *parts: str) -> str:
        """A Redis key in another service's namespace (a read-model contract, e.g. analytics)."""
        return ":".join((self.settings.key_prefix, owner, *parts))
