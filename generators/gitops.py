"""GitOps delivery: Argo CD projects and an app-of-apps per cloud, and Argo Rollouts for the edge.

- AppProject `<platform>` is the security boundary of the application bundles: it accepts only the
  model's repository, only the namespaces and only the resource kinds that the bundles actually
  contain (computed by rendering them), so a bundle that grows a new kind or namespace must pass
  review here. Add-ons live in their own project; the app-of-apps in a bootstrap project.
- One root Application per cloud (`gitops/<cloud>/root.yaml`) syncs `gitops/<cloud>/apps/`, one
  Application per bundle, ordered by sync waves: add-ons, security, HA data, core, mesh and
  observability, rollouts. The core Application builds the cloud's kustomize overlay and patches it
  for the enterprise data tier (the single-replica datastores give way to `data-ha/`, services get
  their own database roles and Redis Sentinel) and for Argo Rollouts (HPAs scale the Rollouts).
- Argo Rollouts: the ingress service is released blue-green (a browser never mixes page versions),
  the other edge services by canary steps. Both are gated by one AnalysisTemplate that compares the
  service's 5xx-free success rate with its SLO availability from the model.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from model.schema import Cloud, NetShopModel, Service

from . import FAMILIES, family
from .addons import ADDONS, ARGOCD, PROMETHEUS_PORT, PROMETHEUS_SERVICE
from .base import Artifact, k8s, yaml_file, yaml_stream
from .data_ha import SENTINEL_PORT, ident, role_secret
from .k8s import env_name, k8s_service, labels, objects, platform_labels

ROOTS = ("gitops/",)

ARGO = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
WAVE = "argocd.argoproj.io/sync-wave"
ANALYSIS = "slo-success-rate"
RATE_WINDOW = "5m"

# Bundles in sync-wave order: name, path under generated/ ({cloud} is the overlay), wave, what it holds.
BUNDLES: tuple[tuple[str, str, int, str], ...] = (
    ("secret-store", "security/secret-stores", -2, "The cloud's secret manager as a ClusterSecretStore"),
    ("security", "security/policies", -2, "Kyverno admission policies and the secrets the platform reads"),
    ("data-ha", "data-ha", -1, "Replicated, zone-spread PostgreSQL, Redis and RabbitMQ"),
    ("core", "kustomize/overlays/{cloud}", 0, "Services, governance and zero-trust NetworkPolicies"),
    ("service-mesh", "service-mesh", 1, "Mutual TLS and authorisation per model edge"),
    ("observability", "observability", 1, "Telemetry pipeline, SLO alerts and dashboards"),
    ("rollouts", "gitops/rollouts", 2, "Progressive delivery of the edge services"),
)
ADDON_WAVE = -3


def project_name(model: NetShopModel, kind: str = "") -> str:
    return f"{model.platform.name}-{kind}" if kind else model.platform.name


# --------------------------------------------------------------------------- bundle contents


def bundle_objects(model: NetShopModel, path: str) -> list[dict]:
    """The objects a bundle deploys, from the families that write under its path (core: the k8s objects)."""
    if path.startswith("kustomize/"):
        return objects(model)
    if path == "gitops/rollouts":
        return rollout_objects(model)
    out: list[dict] = []
    for name in FAMILIES:
        mod = family(name)
        if mod.__name__ == __name__ or not any(r.startswith(path + "/") or r == path + "/" for r in mod.ROOTS):
            continue
        for art in mod.generate(model):
            if art.path.startswith(path + "/") and art.path.endswith((".yaml", ".yml")) and "/examples/" not in art.path \
                    and not art.path.endswith("/kustomization.yaml"):  # kustomize glue, not objects
                out += [d for d in yaml.safe_load_all(art.content) if isinstance(d, dict) and "kind" in d]
    return out


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def boundary(model: NetShopModel) -> tuple[list[str], list[dict], list[dict]]:
    """Namespaces, namespaced kinds and cluster-scoped kinds across every application bundle."""
    namespaces = {model.platform.namespace}
    namespaced: set[tuple[str, str]] = set()
    cluster: set[tuple[str, str]] = set()
    for _, path, _, _ in BUNDLES:
        for obj in bundle_objects(model, path):
            key = (_group(obj["apiVersion"]), obj["kind"])
            ns = obj.get("metadata", {}).get("namespace")
            if ns:
                namespaces.add(ns)
                namespaced.add(key)
            else:
                cluster.add(key)
    as_list = lambda keys: [{"group": g, "kind": k} for g, k in sorted(keys)]  # noqa: E731
    return sorted(namespaces), as_list(namespaced), as_list(cluster)


# --------------------------------------------------------------------------- projects


def projects(model: NetShopModel) -> list[dict]:
    argocd = ARGOCD.namespace
    namespaces, namespaced, cluster = boundary(model)
    repo = model.platform.repository
    lab = platform_labels(model)
    app = k8s(
        ARGO, "AppProject", project_name(model), argocd, labels=lab,
        spec={
            "description": f"{model.platform.title}: the application bundles, limited to what they contain",
            "sourceRepos": [repo],
            "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in namespaces],
            "clusterResourceWhitelist": cluster,
            "namespaceResourceWhitelist": namespaced,
            "orphanedResources": {"warn": True},
        },
    )
    addons = k8s(
        ARGO, "AppProject", project_name(model, "addons"), argocd, labels=lab,
        spec={
            "description": "Operators and controllers the bundles need; they install CRDs and webhooks",
            "sourceRepos": sorted({a.repo for a in ADDONS}),
            "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in sorted({a.namespace for a in ADDONS})],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            "namespaceResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    )
    bootstrap = k8s(
        ARGO, "AppProject", project_name(model, "bootstrap"), argocd, labels=lab,
        spec={
            "description": "The app-of-apps: it may only create Argo CD Applications in the Argo CD namespace",
            "sourceRepos": [repo],
            "destinations": [{"server": IN_CLUSTER, "namespace": argocd}],
            "clusterResourceWhitelist": [],
            "namespaceResourceWhitelist": [{"group": "argoproj.io", "kind": "Application"}],
        },
    )
    return [app, addons, bootstrap]


# --------------------------------------------------------------------------- applications


SYNC = {
    "automated": {"prune": True, "selfHeal": True},
    "syncOptions": ["ServerSideApply=true", "PrunePropagationPolicy=foreground"],
    "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}},
}


def _application(model: NetShopModel, name: str, project: str, wave: int, source: dict, namespace: str,
                 description: str) -> dict:
    app = k8s(
        ARGO, "Application", name, ARGOCD.namespace, labels=platform_labels(model),
        annotations={WAVE: str(wave), "netshop.io/description": description},
        spec={
            "project": project,
            "source": source,
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": SYNC,
        },
    )
    app["metadata"]["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]  # deleting the app prunes its objects
    return app


def _strategic(api: str, kind: str, name: str, body: dict) -> dict:
    return {"target": {"kind": kind, "name": name}, "patch": yaml.safe_dump({"apiVersion": api, "kind": kind, "metadata": {"name": name}, **body}, sort_keys=False)}


def _env_patch(svc: Service, env: list[dict]) -> dict:
    return _strategic("apps/v1", "Deployment", svc.name, {"spec": {"template": {"spec": {"containers": [{"name": svc.name, "env": env}]}}}})


def enterprise_patches(model: NetShopModel) -> list[dict]:
    """Kustomize patches that turn the core overlay into the enterprise deployment (model-derived)."""
    patches: list[dict] = []
    for ds in model.datastores:
        for api, kind in (("apps/v1", "StatefulSet"), ("v1", "Service")):
            patches.append(_strategic(api, kind, ds.name, {"$patch": "delete"}))
    for svc in model.services:
        env: list[dict] = []
        for ds in model.datastores_of(svc.name):
            var = f"NETSHOP_{env_name(ds.name)}"
            if ds.kind == "postgres":
                env.append({"name": f"{var}_URL", "value": f"postgresql://{ident(svc.name)}@{ds.name}:{ds.port}/{ident(svc.name)}"})
                env.append({"name": f"{var}_PASSWORD", "valueFrom": {"secretKeyRef": {"name": role_secret(ds, svc.name), "key": "password"}}})
            elif ds.kind == "redis":
                env.append({"name": f"{var}_SENTINELS", "value": f"{ds.name}-sentinel:{SENTINEL_PORT}"})
                env.append({"name": f"{var}_SENTINEL_MASTER", "value": ds.name})
        if env:
            patches.append(_env_patch(svc, env))
    for svc in edge_services(model):
        patches.append(_strategic("autoscaling/v2", "HorizontalPodAutoscaler", svc.name,
                                  {"spec": {"scaleTargetRef": {"apiVersion": ARGO, "kind": "Rollout", "name": svc.name}}}))
    return patches


def bundle_path(path: str, cloud: Cloud) -> str:
    return f"generated/{path.format(cloud=cloud.name)}"


def applications(model: NetShopModel, cloud: Cloud) -> list[tuple[str, dict]]:
    repo = model.platform.repository
    out: list[tuple[str, dict]] = []
    for a in ADDONS:
        source = {"repoURL": a.repo, "chart": a.chart, "targetRevision": a.version,
                  "helm": {"releaseName": a.name, "valuesObject": {"crds": {"install": True}} if a.name == "argo-rollouts" else {}}}
        app = _application(model, f"addon-{a.name}", project_name(model, "addons"), ADDON_WAVE, source, a.namespace, a.purpose)
        app["spec"]["syncPolicy"] = {**SYNC, "syncOptions": [*SYNC["syncOptions"], "CreateNamespace=true"]}
        out.append((f"addon-{a.name}", app))
    for name, path, wave, description in BUNDLES:
        source: dict = {"repoURL": repo, "targetRevision": "HEAD", "path": bundle_path(path, cloud)}
        if name == "core":
            source["kustomize"] = {"patches": enterprise_patches(model)}
        elif name == "secret-store":
            source["directory"] = {"include": f"{cloud.name}.yaml"}
        else:
            source["directory"] = {"recurse": True, "exclude": "{examples/*,*.json}"}
        out.append((name, _application(model, f"{model.platform.name}-{name}", project_name(model), wave, source,
                                       model.platform.namespace, description)))
    return out


def root(model: NetShopModel, cloud: Cloud) -> dict:
    return _application(
        model, f"{model.platform.name}-{cloud.name}", project_name(model, "bootstrap"), 0,
        {"repoURL": model.platform.repository, "targetRevision": "HEAD", "path": f"generated/gitops/{cloud.name}/apps"},
        ARGOCD.namespace, f"App of apps: {model.platform.title} on {cloud.title}",
    )


# --------------------------------------------------------------------------- rollouts


def edge_services(model: NetShopModel) -> list[Service]:
    return [s for s in model.services if s.tier == "edge"]


def analysis_template(model: NetShopModel) -> dict:
    tel = model.platform.telemetry
    sel = 'service="{{args.service-name}}"'
    errors = f'sum(rate(http_server_requests_total{{{sel},status=~"5.."}}[{RATE_WINDOW}]))'
    total = f"sum(rate(http_server_requests_total{{{sel}}}[{RATE_WINDOW}]))"
    return k8s(
        ARGO, "AnalysisTemplate", ANALYSIS, model.platform.namespace, labels=platform_labels(model),
        spec={
            "args": [{"name": "service-name"}, {"name": "success-rate"}],
            "metrics": [
                {
                    "name": "success-rate",
                    "interval": "1m",
                    "count": 5,
                    "failureLimit": 1,
                    # No traffic yet (NaN) is not a failure; a success rate under the SLO is.
                    "successCondition": "isNaN(result[0]) || result[0] >= {{args.success-rate}}",
                    "provider": {
                        "prometheus": {
                            "address": f"http://{PROMETHEUS_SERVICE}.{tel.scraper_namespace}.svc.cluster.local:{PROMETHEUS_PORT}",
                            "query": f"1 - ({errors} or vector(0)) / {total}",
                        }
                    },
                }
            ],
        },
    )


def _analysis_ref(svc: Service) -> dict:
    return {
        "templates": [{"templateName": ANALYSIS}],
        "args": [
            {"name": "service-name", "value": svc.name},
            {"name": "success-rate", "value": f"{svc.slo.availability / 100:.6g}"},
        ],
    }


def rollout(model: NetShopModel, svc: Service) -> dict:
    blue_green = svc.name == model.platform.ingress.service
    if blue_green:
        strategy = {
            "blueGreen": {
                "activeService": svc.name,
                "previewService": f"{svc.name}-preview",
                "autoPromotionEnabled": True,
                "scaleDownDelaySeconds": 60,
                "prePromotionAnalysis": _analysis_ref(svc),
                "postPromotionAnalysis": _analysis_ref(svc),
            }
        }
    else:
        strategy = {
            "canary": {
                "maxSurge": "25%",
                "maxUnavailable": 0,
                "analysis": {**_analysis_ref(svc), "startingStep": 1},
                "steps": [
                    {"setWeight": 20},
                    {"pause": {"duration": "2m"}},
                    {"setWeight": 50},
                    {"pause": {"duration": "5m"}},
                    {"setWeight": 100},
                ],
            }
        }
    return k8s(
        ARGO, "Rollout", svc.name, model.platform.namespace, labels=labels(model, svc.name, svc.tier),
        annotations={"netshop.io/strategy": "blue-green" if blue_green else "canary"},
        spec={
            "replicas": svc.scaling.min,
            "revisionHistoryLimit": 5,
            "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc.name, "scaleDown": "progressively"},
            "strategy": strategy,
        },
    )


def rollout_objects(model: NetShopModel) -> list[dict]:
    objs = [analysis_template(model)]
    for svc in edge_services(model):
        objs.append(rollout(model, svc))
        if svc.name == model.platform.ingress.service:
            preview = k8s_service(model, svc.name, svc.tier, svc.port)
            preview["metadata"]["name"] = f"{svc.name}-preview"
            objs.append(preview)
    return objs


# --------------------------------------------------------------------------- files


def generate(model: NetShopModel) -> Iterator[Artifact]:
    yield Artifact("gitops/projects.yaml", yaml_stream(projects(model), __name__))
    yield Artifact("gitops/rollouts/rollouts.yaml", yaml_stream(rollout_objects(model), __name__))
    for cloud in model.clouds:
        yield Artifact(f"gitops/{cloud.name}/root.yaml", yaml_file(root(model, cloud), __name__))
        for name, app in applications(model, cloud):
            yield Artifact(f"gitops/{cloud.name}/apps/{name}.yaml", yaml_file(app, __name__))
