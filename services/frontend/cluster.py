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
        url = self.runtime.settings.prometheus_url
        if not url:
            return {"available": False, "reason": "NETSHOP_PROMETHEUS_URL is not set"}
        queries = {
            "rps": 'sum by (service, zone) (rate(http_server_requests_total[1m]))',
            "p95": 'histogram_quantile(0.95, sum by (service, le) (rate(http_server_request_duration_seconds_bucket[5m])))',
        }
        out: dict[str, Any] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            for name, q in queries.items():
                async with session.get(f"{url}/api/v1/query", params={"query": q}) as resp:
                    out[name] = (await resp.json())["data"]["result"]
        return out

    async def scale(self, service: str, minimum: int, maximum: int) -> dict:
        from kubernetes_asyncio import client

        api = await self._client()
        body = {"spec": {"minReplicas": minimum, "maxReplicas": maximum}}
        h = await client.AutoscalingV2Api(api).patch_namespaced_horizontal_pod_autoscaler(service, self.namespace, body)
        return {"name": service, "min": h.spec.min_replicas, "max": h.spec.max_replicas}

    async def close(self) -> None:
        if self.api is not None:
            await self.api.close()


def source_for(runtime: ServiceRuntime):
    return KubernetesApi(runtime) if runtime.settings.runtime == "kubernetes" else LocalRunner(runtime)
