"""Live platform state: the Kubernetes API in a cluster, the local runner's control agent on a laptop.
Every answer says which source is live."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from services.common.app import ServiceRuntime

log = logging.getLogger("netshop.frontend.cluster")
ZONE_LABEL = "topology.kubernetes.io/zone"


class LocalRunner:
    """Reads the local control agent (the laptop's stand-in for the API server and metrics pipeline)."""

    source = "local-runner"

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.url = runtime.settings.control_url
        self.session: aiohttp.ClientSession | None = None

    async def _get(self, path: str) -> Any:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        async with self.session.get(self.url + path) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def state(self) -> dict:
        return await self._get("/state")

    async def metrics(self) -> dict:
        return await self._get("/metrics/summary")

    async def close(self) -> None:
        if self.session:
            await self.session.close()


class KubernetesApi:
    """Reads pods, deployments, HPAs and node zones with the frontend's ServiceAccount (least-privilege RBAC)."""

    source = "kubernetes-api"

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.namespace = runtime.identity.model.platform.namespace
        self.api = None

    async def _client(self):
        if self.api is None:
            from kubernetes_asyncio import client, config

            config.load_incluster_config()
            self.api = client.ApiClient()
        return self.api

    async def state(self) -> dict:
        from kubernetes_asyncio import client

        api = await self._client()
        core, apps, autoscaling = client.CoreV1Api(api), client.AppsV1Api(api), client.AutoscalingV2Api(api)
        nodes = {n.metadata.name: (n.metadata.labels or {}).get(ZONE_LABEL, "unknown") for n in (await core.list_node()).items}
        pods = (await core.list_namespaced_pod(self.namespace)).items
        deployments = {d.metadata.name: d for d in (await apps.list_namespaced_deployment(self.namespace)).items}
        hpas = {h.metadata.name: h for h in (await autoscaling.list_namespaced_horizontal_pod_autoscaler(self.namespace)).items}
        services = []
        for svc in self.runtime.identity.model.services:
            mine = [p for p in pods if (p.metadata.labels or {}).get("app.kubernetes.io/name") == svc.name]
            d, h = deployments.get(svc.name), hpas.get(svc.name)
            services.append({
                "name": svc.name, "tier": svc.tier, "port": svc.port,
                "replicas": {"desired": d.spec.replicas if d else 0, "ready": (d.status.ready_replicas or 0) if d else 0},
                "autoscaler": {"min": h.spec.min_replicas, "max": h.spec.max_replicas, "current": h.status.current_replicas,
                               "desired": h.status.desired_replicas} if h else None,
                "pods": [{"name": p.metadata.name, "zone": nodes.get(p.spec.node_name or "", "unknown"), "phase": p.status.phase,
                          "ready": all(c.ready for c in (p.status.container_statuses or []))} for p in mine],
            })
        return {"services": services}

    async def metrics(self) -> dict:
        """The same shape as the local runner's summary, from Prometheus (RED metrics of every pod)."""
        url = self.runtime.settings.prometheus_url
        if not url:
            return {"available": False, "reason": "NETSHOP_PROMETHEUS_URL is not set"}
        model = self.runtime.identity.model
        producer = next((e.producer for e in model.events), "")
        queries = {
            "rps": "sum by (service, zone) (rate(http_server_requests_total[1m]))",
            "errors": 'sum by (service) (rate(http_server_requests_total{status=~"5.."}[1m]))',
            "p95": "histogram_quantile(0.95, sum by (service, le) (rate(http_server_request_duration_seconds_bucket[5m])))",
            "orders": f'sum(http_server_requests_total{{service="{producer}",status="201",route=~".*checkout.*"}})',
        }
        out: dict[str, Any] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            for name, q in queries.items():
                async with session.get(f"{url}/api/v1/query", params={"query": q}) as resp:
                    resp.raise_for_status()
                    out[name] = (await resp.json())["data"]["result"]
        return summarise_prometheus(model, out)

    async def scale(self, service: str, minimum: int, maximum: int) -> dict:
        from kubernetes_asyncio import client

        api = await self._client()
        body = {"spec": {"minReplicas": minimum, "maxReplicas": maximum}}
        h = await client.AutoscalingV2Api(api).patch_namespaced_horizontal_pod_autoscaler(service, self.namespace, body)
        return {"name": service, "min": h.spec.min_replicas, "max": h.spec.max_replicas}

    async def close(self) -> None:
        if self.api is not None:
            await self.api.close()


def _value(sample: dict) -> float:
    try:
        v = float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return 0.0
    return 0.0 if v != v else v  # NaN (no traffic) reads as zero


def summarise_prometheus(model, results: dict[str, list[dict]]) -> dict:
    """Prometheus instant-query results -> {rps, p95_ms, orders, services: {...}, zones: {...}} like the local agent's."""
    services: dict[str, dict[str, Any]] = {s.name: {"rps": 0.0, "error_rate": 0.0, "p95_ms": None, "zones": {}, "tier": s.tier}
                                           for s in model.services}
    zones: dict[str, float] = {z.name: 0.0 for z in model.platform.zones}
    for r in results.get("rps", []):
        name, zone = r["metric"].get("service"), r["metric"].get("zone", "unknown")
        if name in services:
            services[name]["rps"] = round(services[name]["rps"] + _value(r), 2)
            services[name]["zones"][zone] = round(services[name]["zones"].get(zone, 0.0) + _value(r), 2)
            zones[zone] = round(zones.get(zone, 0.0) + _value(r), 2)
    for r in results.get("errors", []):
        name = r["metric"].get("service")
        if name in services and services[name]["rps"]:
            services[name]["error_rate"] = round(_value(r) / services[name]["rps"], 4)
    for r in results.get("p95", []):
        name = r["metric"].get("service")
        if name in services and r.get("value"):
            services[name]["p95_ms"] = round(_value(r) * 1000, 1)
    for svc in services.values():  # the local agent reports one zone per service; a cluster spreads over several
        svc["zone"] = max(svc["zones"], key=svc["zones"].get) if svc["zones"] else None
    entry = model.platform.ingress.service
    orders = results.get("orders") or []
    return {
        "window_seconds": 60,
        "rps": round(sum(s["rps"] for s in services.values()), 2),
        "edge_rps": round(sum(s["rps"] for n, s in services.items() if model.service_by_name[n].tier == model.platform.tiers[0].name), 2),
        "p95_ms": services.get(entry, {}).get("p95_ms"),
        "orders": int(_value(orders[0])) if orders else 0,
        "services": services,
        "zones": zones,
    }


def source_for(runtime: ServiceRuntime):
    return KubernetesApi(runtime) if runtime.settings.runtime == "kubernetes" else LocalRunner(runtime)
