"""Run-time settings. Only URLs, secrets and switches come from the environment; every platform fact
(ports, peers, queues, datastores) comes from the model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "netshop-local-development-jwt-secret-change-me"
DEV_IDENTITY_SECRET = "netshop-local-development-service-identity-key"


class Settings(BaseSettings):
    """`NETSHOP_*` environment variables, with defaults for a laptop."""

    model_config = SettingsConfigDict(env_prefix="NETSHOP_", extra="ignore")

    service: str = Field(description="Model name of this service; the only thing a service is told about itself.")
    model: Path | None = Field(default=None, description="Model file; the repository's model when unset.")
    runtime: Literal["local", "kubernetes"] = "local"
    zone: str | None = Field(default=None, description="Zone label; locally the runner's simulated placement.")
    pod: str | None = None
    node: str | None = None
    bind: str = "127.0.0.1"
    port_offset: int = Field(default=0, description="Added to every model port locally, so two platforms can coexist.")
    postgres_database: str = Field(default="netshop", description="Local database name (tests use their own).")
    rabbitmq_vhost: str = Field(default="netshop", description="Local RabbitMQ vhost (tests use their own).")
    key_prefix: str = Field(default="netshop", description="Prefix of every Redis key (tests use their own).")
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "netshop-auth"
    jwt_audience: str = "netshop"
    jwt_ttl_seconds: int = 900
    identity_secret: SecretStr = SecretStr(DEV_IDENTITY_SECRET)
    service_identity: bool = Field(default=False, description="Require a signed service token on every east/west call.")
    fault_injection: bool = Field(default=False, description="Expose /_ops/faults for tests and chaos runs.")
    trace_query_url: str = Field(default="http://127.0.0.1:16686", description="Trace backend query API (Jaeger-compatible).")
    control_url: str = Field(default="http://127.0.0.1:8999", description="Local control plane (the runner agent).")
    prometheus_url: str | None = Field(default=None, description="Prometheus API, for live metrics in a cluster.")
    rate_limit: int = Field(default=600, description="Requests per client per rate-limit window at the gateway.")
    rate_window_seconds: int = 10
    max_body_bytes: int = Field(default=1_048_576, description="Largest request body accepted.")
    db_pool_min: int = Field(default=1, ge=0, description="Connections each replica keeps open to PostgreSQL.")
    db_pool_max: int = Field(default=6, ge=1, description="Most connections one replica opens (PostgreSQL's max_connections is shared).")
    log_level: str = "INFO"
    cart_ttl_seconds: int = 7 * 24 * 3600
    outbox_poll_seconds: float = 0.25
