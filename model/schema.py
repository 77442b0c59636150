"""The NetShop system model: one pydantic schema that every artifact, diagram and service reads.

The model states each fact once. Generators and services derive everything else (policies,
charts, diagrams, peers, queues) from it. Field descriptions double as the model reference in
the docs, so they are written for architects, not for Python readers.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DNS1123_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
STANDARD_LATENCY_BUCKETS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)

Name = Annotated[
    str,
    StringConstraints(pattern=DNS1123_PATTERN, max_length=40),
    Field(description="A DNS-1123 label: lower-case letters, digits and '-', at most 40 characters."),
]
Port = Annotated[int, Field(ge=1024, le=65535, description="A TCP port above the privileged range.")]
Quantity = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$"),
    Field(description="A Kubernetes resource quantity such as `100m`, `256Mi` or `1`."),
]
TierName = Literal["edge", "app", "worker", "data"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "ANY"]
RouteRef = Annotated[
    str,
    StringConstraints(pattern=r"^(\*|public|(GET|POST|PUT|PATCH|DELETE|ANY) /\S*)$"),
    Field(
        description=(
            "A route of the callee as `METHOD /path` exactly as the callee declares it, or `public` "
            "for every public route of the callee, or `*` for every route of the callee."
        )
    ),
]


def path_regex(path: str) -> str:
    """`/products/{id}` -> `^/products/[^/]+$`; `/api/{path:path}` -> `^/api/.*$`."""
    out, pos = "^", 0
    for m in re.finditer(r"\{([a-z_][a-z0-9_]*)(:path)?\}", path):
        out += re.escape(path[pos:m.start()]) + (".*" if m.group(2) else "[^/]+")
        pos = m.end()
    return out + re.escape(path[pos:]) + "$"


@lru_cache(maxsize=4096)
def _compiled_path(path: str) -> re.Pattern[str]:
    """The compiled `path_regex`, once per path: the gateway and every peer client match each call against the
    model's routes, and building the pattern text each time cost ~100 µs a call (perf, bench/load.py)."""
    return re.compile(path_regex(path))


class Frozen(BaseModel):
    """Base of every model type: immutable, and unknown keys are errors rather than silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=False)


# --------------------------------------------------------------------------- platform


class Zone(Frozen):
    """An availability zone that workloads spread across."""

    name: Name = Field(description="Zone id used in the model and by the local runner, e.g. `zone-a`.")
    title: str = Field(description="Human name of the zone, shown in the console and diagrams.")


class Tier(Frozen):
    """A layer of the platform. Tiers are listed top (edge) to bottom (data); calls flow downwards."""

    name: TierName = Field(description="Tier id: `edge`, `app`, `worker` or `data`.")
    title: str = Field(description="Human name of the tier.")
    description: str = Field(description="What lives in this tier and how it is reached.")
    ha: bool = Field(
        description="Whether the tier must survive the loss of a zone: its workloads run at least one replica per zone."
    )


class Resources(Frozen):
    """CPU and memory for one container."""

    cpu_request: Quantity = Field(description="CPU the scheduler reserves (requests.cpu).")
    memory_request: Quantity = Field(description="Memory the scheduler reserves (requests.memory).")
    cpu_limit: Quantity = Field(description="CPU ceiling (limits.cpu).")
    memory_limit: Quantity = Field(description="Memory ceiling (limits.memory); above it the container is OOM-killed.")


class ZoneSpread(Frozen):
    """How a workload's replicas are spread across zones and nodes."""

    max_skew: int = Field(default=1, ge=1, description="Largest allowed difference in replicas between two zones.")
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = Field(
        default="DoNotSchedule",
        description="Whether a pod stays pending (`DoNotSchedule`) or is placed anyway when the spread cannot hold.",
    )


class Slo(Frozen):
    """A service level objective over a rolling window; burn-rate alerts and rollout analysis derive from it."""

    availability: float = Field(
        default=99.9, gt=90, lt=100, description="Percent of requests that must not fail with a 5xx over the window."
    )
    latency_ms: int = Field(default=300, ge=1, description="Latency threshold in milliseconds.")
    latency_target: float = Field(
        default=99.0, gt=50, lt=100, description="Percent of requests that must finish within `latency_ms`."
    )
    window_days: int = Field(default=30, ge=1, le=90, description="Rolling window of the objective, in days.")


class Scaling(Frozen):
    """Replica bounds and the Horizontal Pod Autoscaler's targets."""

    min: int = Field(ge=1, description="Replicas at rest and the autoscaler's floor.")
    max: int = Field(ge=1, description="The autoscaler's ceiling.")
    cpu_utilization: int = Field(
        default=70, ge=10, le=100, description="Target average CPU utilisation in percent of the request."
    )
    memory_utilization: int | None = Field(
        default=None, ge=10, le=100, description="Optional target average memory utilisation in percent of the request."
    )
    scale_up_window_seconds: int = Field(
        default=0, ge=0, le=3600, description="Stabilisation window before scaling up; short, to react fast."
    )
    scale_down_window_seconds: int = Field(
        default=300, ge=0, le=3600, description="Stabilisation window before scaling down; long, to avoid flapping."
    )


class IngressSource(Frozen):
    """Where ingress traffic to the web service comes from: controller pods, or load-balancer address ranges."""

    namespace: Name | None = Field(default=None, description="Namespace of in-cluster ingress controller pods.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels that select the controller pods.")
    cidrs: list[str] = Field(
        default_factory=list, description="Address ranges of a cloud load balancer that sends traffic straight to pods."
    )


class Telemetry(Frozen):
    """Where telemetry goes: the OpenTelemetry Collector receives traces, Prometheus scrapes `/metrics`."""

    collector_namespace: Name = Field(description="Namespace of the OpenTelemetry Collector.")
    collector_service: Name = Field(description="Service name of the collector.")
    collector_labels: dict[str, str] = Field(description="Labels that select the collector pods.")
    otlp_grpc_port: int = Field(default=4317, description="OTLP/gRPC port of the collector.")
    otlp_http_port: int = Field(default=4318, description="OTLP/HTTP port of the collector; the services export here.")
    scraper_namespace: Name = Field(description="Namespace of Prometheus.")
    scraper_labels: dict[str, str] = Field(description="Labels that select the Prometheus pods.")


class Ingress(Frozen):
    """The north/south entry of the platform."""

    host: str = Field(description="Public host name the Ingress answers for.")
    service: Name = Field(description="The one service the ingress controller may reach (the web app).")
    class_name: str = Field(description="Default IngressClass; clouds override it.")
    source: IngressSource = Field(description="Default origin of ingress traffic; clouds override it.")
    tls_secret: Name = Field(description="Name of the TLS Secret for the host (created by cert-manager or the operator).")


class ClusterDns(Frozen):
    """The cluster DNS every pod may query, and nothing else on port 53."""

    namespace: Name = Field(default="kube-system", description="Namespace of the cluster DNS pods.")
    labels: dict[str, str] = Field(
        default_factory=lambda: {"k8s-app": "kube-dns"}, description="Labels that select the DNS pods."
    )
    port: int = Field(default=53, description="DNS port, allowed over UDP and TCP.")


class KubernetesApi(Frozen):
    """Where the Kubernetes API server is, for workloads that read cluster state."""

    cidr: str = Field(
        description="CIDR of the API server endpoints. Overlays pin it per cluster; `0.0.0.0/0` keeps only the port rule."
    )
    ports: list[int] = Field(description="API server ports (443 for the Service, 6443 for the endpoints).")


class Platform(Frozen):
    """The platform as a whole: names, where it runs, and the shared defaults."""

    name: Name = Field(description="Platform name; prefixes cluster-wide objects.")
    title: str = Field(description="Display name.")
    description: str = Field(description="One paragraph on what the platform is.")
    namespace: Name = Field(description="Kubernetes namespace that holds every workload.")
    version: str = Field(description="Version of the application images and the chart's appVersion.")
    image: str = Field(
        description="Repository of the one parameterised service image; the service name selects the role at start."
    )
    repository: str = Field(
        pattern=r"^https://\S+\.git$",
        description="Git repository (HTTPS clone URL) that Argo CD syncs the generated bundles from.",
    )
    zones: list[Zone] = Field(min_length=1, description="Availability zones, in placement order.")
    tiers: list[Tier] = Field(description="Tiers from the top (edge) to the bottom (data).")
    default_resources: Resources = Field(description="Resources of a service that does not set its own.")
    ingress: Ingress = Field(description="The edge Ingress.")
    dns: ClusterDns = Field(default_factory=ClusterDns, description="Cluster DNS allowed for every pod.")
    kubernetes_api: KubernetesApi = Field(description="The API server, reachable only by services that read it.")
    telemetry: Telemetry = Field(description="Trace and metrics endpoints every service talks to.")
    mesh: Literal["linkerd", "istio"] = Field(
        default="linkerd",
        description="Service mesh the GitOps bundle enables on the core application; both meshes are generated.",
    )
    jwt_secret: Name = Field(
        description="Name of the Kubernetes Secret holding the JWT signing key (key `secret`); never committed."
    )
    datastore_secret: Name = Field(
        description="Name of the Kubernetes Secret holding datastore passwords (keys `<datastore>-password`); never committed."
    )


# --------------------------------------------------------------------------- services and datastores


class Route(Frozen):
    """An HTTP route a service exposes."""

    method: HttpMethod = Field(description="HTTP method; `ANY` for a proxy route that forwards every method.")
    path: str = Field(
        pattern=r"^/\S*$",
        description="Path on the service, with `{param}` placeholders; `{name:path}` matches the rest of the path (proxies).",
    )
    summary: str = Field(description="What the route does, in one line.")
    public: bool = Field(
        default=False,
        description="Whether the api-gateway exposes the route to the outside world at `/api` + path.",
    )
    auth: bool = Field(default=False, description="Whether a caller must present a valid user JWT.")
    idempotent: bool | None = Field(
        default=None,
        description="Whether retrying is safe. Defaults to true for GET, PUT and DELETE, false otherwise.",
    )

    @property
    def ref(self) -> str:
        """The `METHOD /path` reference edges and flows use."""
        return f"{self.method} {self.path}"

    @property
    def regex(self) -> str:
        """Anchored regular expression of the path: `{x}` is one segment, `{x:path}` the rest of the path."""
        return path_regex(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "ANY" or self.method == method.upper()) and _compiled_path(self.path).fullmatch(path) is not None

    @property
    def safe_to_retry(self) -> bool:
        return self.idempotent if self.idempotent is not None else self.method in {"GET", "PUT", "DELETE"}


class KubeAccess(Frozen):
    """Read access to Kubernetes API objects, granted by least-privilege RBAC."""

    api_group: str = Field(description="API group; empty string for the core group.")
    resources: list[str] = Field(min_length=1, description="Resource names, e.g. `pods`.")
    verbs: list[Literal["get", "list", "watch", "patch", "update"]] = Field(
        description="Verbs allowed on those resources."
    )
    cluster_scoped: bool = Field(
        default=False, description="Whether the resources live outside the namespace (nodes), needing a ClusterRole."
    )


class Service(Frozen):
    """A workload of the platform: one FastAPI process per replica, built from the shared image."""

    name: Name = Field(description="Service name: its DNS name, ServiceAccount, labels and `NETSHOP_SERVICE` value.")
    tier: Literal["edge", "app", "worker"] = Field(description="Tier the service belongs to.")
    role: str = Field(description="What the service is responsible for, in one line.")
    port: Port = Field(description="HTTP port; unique across the platform so every service also runs side by side locally.")
    routes: list[Route] = Field(
        default_factory=list,
        description="HTTP routes beyond the operational ones (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`) that every service has.",
    )
    scaling: Scaling = Field(description="Replica bounds and autoscaling targets.")
    resources: Resources | None = Field(
        default=None, description="Container resources; the platform default when absent."
    )
    zone_spread: ZoneSpread = Field(default_factory=ZoneSpread, description="Zone and node spread of the replicas.")
    slo: Slo = Field(default_factory=Slo, description="Availability and latency objectives.")
    kube_access: list[KubeAccess] = Field(
        default_factory=list, description="Kubernetes API objects the service reads; empty means no API token is mounted."
    )
    secrets: list[Literal["jwt"]] = Field(
        default_factory=list, description="Platform secrets mounted into the service, by purpose."
    )


class Datastore(Frozen):
    """A stateful backing service in the data tier."""

    name: Name = Field(description="Datastore name; its DNS name inside the namespace.")
    kind: Literal["postgres", "redis", "rabbitmq"] = Field(description="Engine.")
    role: str = Field(description="What the platform keeps in it.")
    port: Port = Field(description="Client port.")
    image: str = Field(description="Container image with a pinned tag.")
    run_as_user: int = Field(ge=1, description="Non-root user id the engine runs as inside its image.")
    storage: Quantity = Field(description="Size of its persistent volume.")
    resources: Resources = Field(description="Container resources.")


# --------------------------------------------------------------------------- edges and events


class SyncEdge(Frozen):
    """A synchronous HTTP call from one service to another: east/west or north/south."""

    caller: Name = Field(description="The calling service.")
    callee: Name = Field(description="The called service.")
    routes: list[RouteRef] = Field(min_length=1, description="Routes of the callee the caller uses.")
    purpose: str = Field(description="Why the caller makes this call.")

    @property
    def id(self) -> str:
        return f"{self.caller}->{self.callee}"


class DataEdge(Frozen):
    """A service's connection to a datastore. Broker connections are implied by events, not listed here."""

    service: Name = Field(description="The connecting service.")
    datastore: Name = Field(description="The datastore it connects to.")
    purpose: str = Field(description="What the service keeps or reads there.")

    @property
    def id(self) -> str:
        return f"{self.service}->{self.datastore}"


class Exchange(Frozen):
    """A message exchange on a broker."""

    name: str = Field(pattern=r"^[a-z][a-z0-9.-]*$", description="Exchange name, e.g. `netshop.events`.")
    type: Literal["topic", "direct", "fanout"] = Field(description="AMQP exchange type.")
    broker: Name = Field(description="The rabbitmq datastore that hosts it.")
    dead_letter_exchange: str = Field(description="Exchange that receives messages a consumer rejects for good.")


class PayloadField(Frozen):
    """One field of an event's JSON payload."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$", description="Field name in the JSON payload.")
    type: Literal["string", "integer", "number", "boolean", "array", "object"] = Field(description="JSON type.")
    description: str = Field(description="Meaning of the field.")


class Subscription(Frozen):
    """A consumer's durable queue bound to an event."""

    consumer: Name = Field(description="The consuming service.")
    queue: str = Field(pattern=r"^[a-z][a-z0-9.-]*$", description="Durable queue name, owned by the consumer.")
    binding_key: str = Field(description="Binding key on the exchange (topic patterns allowed).")
    dead_letter_queue: str = Field(
        pattern=r"^[a-z][a-z0-9.-]*$", description="Queue that keeps messages the consumer gave up on."
    )
    max_deliveries: int = Field(
        default=5, ge=1, description="Deliveries before a message is dead-lettered (quorum queue delivery limit)."
    )
    effect: str = Field(description="What consuming the event does, exactly once in effect.")


class Event(Frozen):
    """An asynchronous fact published to an exchange."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$", description="Event name, e.g. `order.created`.")
    exchange: str = Field(description="Exchange it is published to.")
    routing_key: str = Field(description="Routing key it is published with.")
    producer: Name = Field(description="The only service that publishes it.")
    description: str = Field(description="What happened when this event exists.")
    payload: list[PayloadField] = Field(min_length=1, description="Fields of the JSON payload.")
    subscriptions: list[Subscription] = Field(default_factory=list, description="One per consumer.")


class FlowStep(Frozen):
    """One step of a flow: a call or data access (`from` and `to`), a publish (`event`), or a consume (`event` and `to`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: Name | None = Field(default=None, alias="from", description="Caller or connecting service of a call or data step.")
    to: Name | None = Field(default=None, description="Callee, datastore or (with `event`) consumer.")
    event: str | None = Field(default=None, description="Event published (alone) or consumed (with `to`).")
    route: str | None = Field(default=None, description="For a call step, the callee route used, as `METHOD /path`.")
    note: str = Field(description="What happens in this step.")

    @property
    def kind(self) -> Literal["call", "publish", "consume", "invalid"]:
        if self.event and self.source is None:
            return "consume" if self.to else "publish"
        if self.source and self.to and not self.event:
            return "call"
        return "invalid"


class Flow(Frozen):
    """A named end-to-end path through the platform, as ordered steps over declared edges and events."""

    name: Name = Field(description="Flow id; becomes file and page names.")
    title: str = Field(description="Display name.")
    description: str = Field(description="What the flow achieves for the user.")
    steps: list[FlowStep] = Field(min_length=1, description="Ordered steps.")


class Capability(Frozen):
    """A cross-cutting platform capability with the artefacts that implement it."""

    id: Literal["mesh", "observability", "ha-data", "gitops", "supply-chain", "zero-trust"] = Field(
        description="Capability id."
    )
    title: str = Field(description="Display name.")
    summary: str = Field(description="What it adds to the platform, in a paragraph.")
    artifacts: list[str] = Field(
        min_length=1, description="Paths, relative to the repository root, of the generated artefacts that implement it."
    )


# --------------------------------------------------------------------------- clouds


class Cloud(Frozen):
    """A target cloud (or local cluster) with the facts its kustomize overlay and Terraform need."""

    name: Literal["kind", "gke", "eks", "aks", "doks"] = Field(description="Overlay name.")
    title: str = Field(description="Display name.")
    region: str = Field(description="Region of the regional, multi-zone cluster.")
    zones: dict[str, str] = Field(description="Model zone -> the cloud's zone name (the node label value).")
    storage_class: str = Field(description="StorageClass for the datastores' zonal disks.")
    ingress_class: str = Field(description="IngressClass of the cloud's ingress controller.")
    ingress_source: IngressSource = Field(description="Where ingress traffic comes from in this cloud.")
    ingress_annotations: dict[str, str] = Field(default_factory=dict, description="Cloud-specific Ingress annotations.")
    replicas: dict[Literal["edge", "app", "worker"], int] = Field(
        default_factory=dict, description="Replica floor per tier in this cloud; tiers left out keep the model's minimum."
    )
    node_type: str = Field(description="Machine type of the worker node pool.")
    nodes_per_zone: int = Field(ge=1, description="Worker nodes per zone in the node pool.")


# --------------------------------------------------------------------------- the model


class EdgeView(Frozen):
    """A network connection a workload opens: the unit of policy and of `netshop model export`."""

    source: str
    target: str
    kind: Literal["sync", "data"]
    port: int
    purpose: str


class NetShopModel(Frozen):
    """The whole system: platform, services, datastores, edges, events, flows and capabilities."""

    platform: Platform = Field(description="Platform-wide facts.")
    services: list[Service] = Field(min_length=1, description="Workloads in the edge, app and worker tiers.")
    datastores: list[Datastore] = Field(description="Stateful services in the data tier.")
    sync_edges: list[SyncEdge] = Field(description="Synchronous HTTP calls between services.")
    data_edges: list[DataEdge] = Field(description="Connections from services to PostgreSQL and Redis.")
    exchanges: list[Exchange] = Field(description="Message exchanges.")
    events: list[Event] = Field(description="Asynchronous events.")
    flows: list[Flow] = Field(description="End-to-end flows over edges and events.")
    capabilities: list[Capability] = Field(description="Cross-cutting platform capabilities.")
    clouds: list[Cloud] = Field(description="Clouds the platform deploys to, one kustomize overlay each.")

    # -- lookups (the model is frozen, so derived views are computed once) --

    @cached_property
    def service_by_name(self) -> dict[str, Service]:
        return {s.name: s for s in self.services}

    @cached_property
    def datastore_by_name(self) -> dict[str, Datastore]:
        return {d.name: d for d in self.datastores}

    @cached_property
    def event_by_name(self) -> dict[str, Event]:
        return {e.name: e for e in self.events}

    @cached_property
    def exchange_by_name(self) -> dict[str, Exchange]:
        return {x.name: x for x in self.exchanges}

    @cached_property
    def tier_by_name(self) -> dict[str, Tier]:
        return {t.name: t for t in self.platform.tiers}

    def tier_rank(self, tier: str) -> int:
        """Position of a tier from the top: edge is 0."""
        return [t.name for t in self.platform.tiers].index(tier)

    def min_replicas(self, service: Service, cloud: Cloud | None = None) -> int:
        """Replicas at rest: the model's minimum, or the cloud's floor for the tier."""
        if cloud is not None and service.tier in cloud.replicas:
            return cloud.replicas[service.tier]
        return service.scaling.min

    def latency_buckets_ms(self) -> list[float]:
        """Histogram buckets every service exports and the span-metrics connector uses: a standard
        ladder plus each SLO's latency threshold, so every objective is measured exactly."""
        return sorted({*STANDARD_LATENCY_BUCKETS_MS, *(float(s.slo.latency_ms) for s in self.services)})

    def resources_of(self, service: Service) -> Resources:
        return service.resources or self.platform.default_resources

    def routes_of_edge(self, edge: SyncEdge) -> list[Route]:
        """The callee routes an edge grants, with `public` and `*` expanded."""
        callee = self.service_by_name.get(edge.callee)
        if callee is None:
            return []
        chosen: dict[str, Route] = {}
        for ref in edge.routes:
            for route in callee.routes:
                if ref == "*" or (ref == "public" and route.public) or ref == route.ref:
                    chosen[route.ref] = route
        return [chosen[k] for k in sorted(chosen)]

    @cached_property
    def broker_edges(self) -> list[DataEdge]:
        """Data edges to brokers implied by events: producers publish, consumers consume."""
        uses: dict[tuple[str, str], list[str]] = {}
        for event in self.events:
            exchange = self.exchange_by_name.get(event.exchange)
            if exchange is None:
                continue
            uses.setdefault((event.producer, exchange.broker), []).append(f"publishes {event.name}")
            for sub in event.subscriptions:
                uses.setdefault((sub.consumer, exchange.broker), []).append(f"consumes {event.name} from {sub.queue}")
        return [
            DataEdge(service=svc, datastore=broker, purpose="; ".join(sorted(purposes)))
            for (svc, broker), purposes in sorted(uses.items())
        ]

    @cached_property
    def all_data_edges(self) -> list[DataEdge]:
        """Declared data edges plus broker edges implied by events, sorted."""
        return sorted([*self.data_edges, *self.broker_edges], key=lambda e: (e.service, e.datastore))

    def datastores_of(self, service: str) -> list[Datastore]:
        return [self.datastore_by_name[e.datastore] for e in self.all_data_edges if e.service == service and e.datastore in self.datastore_by_name]

    def peers_of(self, service: str) -> list[str]:
        """Services a service may call synchronously."""
        return sorted({e.callee for e in self.sync_edges if e.caller == service})

    def callers_of(self, service: str) -> list[str]:
        return sorted({e.caller for e in self.sync_edges if e.callee == service})

    def clients_of(self, datastore: str) -> list[str]:
        return sorted({e.service for e in self.all_data_edges if e.datastore == datastore})

    def port_of(self, name: str) -> int:
        if name in self.service_by_name:
            return self.service_by_name[name].port
        return self.datastore_by_name[name].port

    def subscriptions_of(self, service: str) -> list[tuple[Event, Subscription]]:
        return [(e, s) for e in self.events for s in e.subscriptions if s.consumer == service]

    def events_produced_by(self, service: str) -> list[Event]:
        return [e for e in self.events if e.producer == service]

    @cached_property
    def edges(self) -> list[EdgeView]:
        """Every network connection a workload opens, sync and data, sorted by source then target."""
        views = [
            EdgeView(source=e.caller, target=e.callee, kind="sync", port=self.port_of(e.callee), purpose=e.purpose)
            for e in self.sync_edges
            if e.callee in self.service_by_name
        ] + [
            EdgeView(source=e.service, target=e.datastore, kind="data", port=self.port_of(e.datastore), purpose=e.purpose)
            for e in self.all_data_edges
            if e.datastore in self.datastore_by_name
        ]
        return sorted(views, key=lambda v: (v.source, v.target))

    @property
    def workload_names(self) -> list[str]:
        return [s.name for s in self.services] + [d.name for d in self.datastores]

    def export(self) -> dict:
        """The stable JSON shape other tools rely on (`netshop model export`)."""
        return {
            "platform": {
                "name": self.platform.name,
                "namespace": self.platform.namespace,
                "zones": [z.name for z in self.platform.zones],
                "tiers": [t.name for t in self.platform.tiers],
            },
            "services": [
                {
                    "name": s.name,
                    "tier": s.tier,
                    "port": s.port,
                    "role": s.role,
                    "replicas": {"min": s.scaling.min, "max": s.scaling.max},
                    "datastores": [d.name for d in self.datastores_of(s.name)],
                    "routes": [r.ref for r in s.routes],
                }
                for s in self.services
            ],
            "datastores": [
                {"name": d.name, "kind": d.kind, "port": d.port, "tier": "data"} for d in self.datastores
            ],
            "edges": [v.model_dump(mode="json") for v in self.edges],
            "events": [
                {
                    "name": e.name,
                    "exchange": e.exchange,
                    "routing_key": e.routing_key,
                    "producer": e.producer,
                    "payload": [p.name for p in e.payload],
                    "subscriptions": [
                        {
                            "consumer": s.consumer,
                            "queue": s.queue,
                            "binding_key": s.binding_key,
                            "dead_letter_queue": s.dead_letter_queue,
                        }
                        for s in e.subscriptions
                    ],
                }
                for e in self.events
            ],
            "flows": [{"name": f.name, "title": f.title, "steps": len(f.steps)} for f in self.flows],
        }
