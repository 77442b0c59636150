"""Kubernetes objects for the platform, built from the model.

These builders are the reference rendering: the `manifests` family writes them, the kustomize
base splits them into files, and the Helm chart's templates must render the same objects.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

from model.schema import Datastore, NetShopModel, Resources, Service

from .base import k8s

APP_UID = 10001  # the service image's non-root user
MODEL_MOUNT = "/etc/netshop"
MODEL_FILE = "model.json"
ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"

# Engine facts of each datastore kind (not platform facts): data path, probe and the env it reads.
ENGINES: dict[str, dict] = {
    "postgres": {
        "data": "/var/lib/postgresql/data",
        "scratch": ["/var/run/postgresql", "/tmp"],
        "probe": ["pg_isready", "-U", "netshop", "-d", "netshop", "-h", "127.0.0.1"],
        "url": "postgresql://netshop@{host}:{port}/netshop",
    },
    "redis": {
        "data": "/data",
        "scratch": ["/tmp"],
        "probe": ["sh", "-c", "redis-cli -a \"$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG"],
        "url": "redis://{host}:{port}/0",
    },
    "rabbitmq": {
        "data": "/var/lib/rabbitmq",
        "scratch": ["/tmp", "/etc/rabbitmq/conf.d"],
        "probe": ["rabbitmq-diagnostics", "-q", "ping"],
        "url": "amqp://netshop@{host}:{port}/netshop",
    },
}


def env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def model_json(model: NetShopModel) -> str:
    """The model as the services read it in a cluster: canonical JSON, mounted from a ConfigMap."""
    return json.dumps(model.model_dump(mode="json", by_alias=True), indent=1, sort_keys=True) + "\n"


def model_checksum(model: NetShopModel) -> str:
    return hashlib.sha256(model_json(model).encode()).hexdigest()


# --------------------------------------------------------------------------- labels


def labels(model: NetShopModel, name: str, tier: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": model.platform.name,
        "app.kubernetes.io/component": tier,
        "app.kubernetes.io/part-of": model.platform.name,
        "app.kubernetes.io/version": model.platform.version,
    }


def selector(model: NetShopModel, name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": model.platform.name}


def platform_labels(model: NetShopModel) -> dict[str, str]:
    return {
        "app.kubernetes.io/instance": model.platform.name,
        "app.kubernetes.io/part-of": model.platform.name,
        "app.kubernetes.io/version": model.platform.version,
    }


def resources(r: Resources) -> dict:
    return {
        "requests": {"cpu": r.cpu_request, "memory": r.memory_request},
        "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit},
    }


# --------------------------------------------------------------------------- namespace and governance


def namespace(model: NetShopModel) -> dict:
    psa = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    psa |= {f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in ("enforce", "audit", "warn")}
    return k8s("v1", "Namespace", model.platform.namespace, labels={**platform_labels(model), **psa})


_SUFFIX = {"m": 0.001, "": 1.0, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def quantity(value: str) -> float:
    """A Kubernetes quantity as a plain number (cores or bytes)."""
    m = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|Ti)?", value)
    if not m:
        raise ValueError(f"not a quantity: {value}")
    return float(m.group(1)) * _SUFFIX[m.group(2) or ""]


def _quantity_sum(values: list[str], unit: str) -> str:
    """Add CPU quantities (to millicores) or memory quantities (to Mi)."""
    total = sum(quantity(v) for v in values)
    return f"{math.ceil(round(total * 1000, 6))}m" if unit == "cpu" else f"{math.ceil(total / 2**20)}Mi"


def quota_figures(model: NetShopModel) -> dict[str, str]:
    """ResourceQuota hard limits: every workload at its maximum replicas, plus 25% headroom for rollouts."""
    cpu_req, mem_req, cpu_lim, mem_lim = [], [], [], []
    pods = 0
    for s in model.services:
        r = model.resources_of(s)
        n = math.ceil(s.scaling.max * 1.25)
        pods += n
        cpu_req += [r.cpu_request] * n
        mem_req += [r.memory_request] * n
        cpu_lim += [r.cpu_limit] * n
        mem_lim += [r.memory_limit] * n
    for d in model.datastores:
        pods += 1
        cpu_req.append(d.resources.cpu_request)
        mem_req.append(d.resources.memory_request)
        cpu_lim.append(d.resources.cpu_limit)
        mem_lim.append(d.resources.memory_limit)
    return {
        "pods": str(pods),
        "requests.cpu": _quantity_sum(cpu_req, "cpu"),
        "requests.memory": _quantity_sum(mem_req, "memory"),
        "limits.cpu": _quantity_sum(cpu_lim, "cpu"),
        "limits.memory": _quantity_sum(mem_lim, "memory"),
        "persistentvolumeclaims": str(len(model.datastores)),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def resource_quota(model: NetShopModel) -> dict:
    return k8s(
        "v1", "ResourceQuota", f"{model.platform.name}-quota", model.platform.namespace,
        labels=platform_labels(model), spec={"hard": quota_figures(model)},
    )


def limit_range(model: NetShopModel) -> dict:
    d = model.platform.default_resources
    all_res = [model.resources_of(s) for s in model.services] + [x.resources for x in model.datastores]
    biggest_cpu = max(all_res, key=lambda r: quantity(r.cpu_limit)).cpu_limit
    biggest_mem = max(all_res, key=lambda r: quantity(r.memory_limit)).memory_limit
    return k8s(
        "v1", "LimitRange", f"{model.platform.name}-limits", model.platform.namespace,
        labels=platform_labels(model),
        spec={
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": d.cpu_limit, "memory": d.memory_limit},
                    "defaultRequest": {"cpu": d.cpu_request, "memory": d.memory_request},
                    "max": {"cpu": biggest_cpu, "memory": biggest_mem},
                }
            ]
        },
    )


def model_configmap(model: NetShopModel) -> dict:
    return k8s(
        "v1", "ConfigMap", f"{model.platform.name}-model", model.platform.namespace,
        labels=platform_labels(model), data={MODEL_FILE: model_json(model)},
    )


# --------------------------------------------------------------------------- identity and RBAC


def service_account(model: NetShopModel, name: str, tier: str, automount: bool) -> dict:
    return k8s(
        "v1", "ServiceAccount", name, model.platform.namespace, labels=labels(model, name, tier),
        automountServiceAccountToken=automount,
    )


def rbac(model: NetShopModel, svc: Service) -> list[dict]:
    """A Role (and a ClusterRole for cluster-scoped reads) granting exactly the model's kube_access."""
    ns = model.platform.namespace
    objs: list[dict] = []
    local = [a for a in svc.kube_access if not a.cluster_scoped]
    cluster = [a for a in svc.kube_access if a.cluster_scoped]
    subject = [{"kind": "ServiceAccount", "name": svc.name, "namespace": ns}]
    rules = lambda acc: [{"apiGroups": [a.api_group], "resources": list(a.resources), "verbs": list(a.verbs)} for a in acc]  # noqa: E731
    if local:
        role = f"{svc.name}-reader"
        objs.append(k8s("rbac.authorization.k8s.io/v1", "Role", role, ns, labels=labels(model, svc.name, svc.tier), rules=rules(local)))
        objs.append(
            k8s(
                "rbac.authorization.k8s.io/v1", "RoleBinding", role, ns, labels=labels(model, svc.name, svc.tier),
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}, subjects=subject,
            )
        )
    if cluster:
        role = f"{model.platform.name}-{svc.name}-cluster-reader"
        objs.append(k8s("rbac.authorization.k8s.io/v1", "ClusterRole", role, labels=labels(model, svc.name, svc.tier), rules=rules(cluster)))
        objs.append(
            k8s(
                "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", role, labels=labels(model, svc.name, svc.tier),
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, subjects=subject,
            )
        )
    return objs


# --------------------------------------------------------------------------- pod building blocks


def pod_security_context(uid: int) -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def placement(model: NetShopModel, name: str, max_skew: int, when: str) -> dict:
    """Zone and node spread, preferred anti-affinity, and a node affinity pinning the model's zones."""
    sel = {"matchLabels": selector(model, name)}
    return {
        "topologySpreadConstraints": [
            {"maxSkew": max_skew, "topologyKey": ZONE_KEY, "whenUnsatisfiable": when, "labelSelector": sel},
            {"maxSkew": 1, "topologyKey": HOST_KEY, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": sel},
        ],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": ZONE_KEY, "operator": "In", "values": [z.name for z in model.platform.zones]}]}
                    ]
                }
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"topologyKey": HOST_KEY, "labelSelector": sel}}
                ]
            },
        },
    }


def service_env(model: NetShopModel, svc: Service) -> list[dict]:
    """Identity, placement, datastore URLs and secret references; ports and peers come from the model file."""
    env: list[dict] = [
        {"name": "NETSHOP_SERVICE", "value": svc.name},
        {"name": "NETSHOP_MODEL", "value": f"{MODEL_MOUNT}/{MODEL_FILE}"},
        {"name": "NETSHOP_RUNTIME", "value": "kubernetes"},
        {"name": "NETSHOP_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NETSHOP_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "NETSHOP_ZONE", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{ZONE_KEY}']"}}},
        {"name": "OTEL_SERVICE_NAME", "value": svc.name},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": otlp_endpoint(model)},
    ]
    for ds in model.datastores_of(svc.name):
        engine = ENGINES[ds.kind]
        env.append({"name": f"NETSHOP_{env_name(ds.name)}_URL", "value": engine["url"].format(host=ds.name, port=ds.port)})
        env.append(
            {
                "name": f"NETSHOP_{env_name(ds.name)}_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": model.platform.datastore_secret, "key": f"{ds.name}-password"}},
            }
        )
    if "jwt" in svc.secrets:
        env.append({"name": "NETSHOP_JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": model.platform.jwt_secret, "key": "secret"}}})
    return env


def otlp_endpoint(model: NetShopModel) -> str:
    t = model.platform.telemetry
    return f"http://{t.collector_service}.{t.collector_namespace}.svc.cluster.local:{t.otlp_http_port}"


def http_probe(path: str, period: int, failures: int, initial: int = 0) -> dict:
    probe: dict = {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}
    if initial:
        probe["initialDelaySeconds"] = initial
    return probe


# --------------------------------------------------------------------------- services


def deployment(model: NetShopModel, svc: Service, checksum: str | None = None) -> dict:
    lab = labels(model, svc.name, svc.tier)
    container = {
        "name": svc.name,
        "image": f"{model.platform.image}:{model.platform.version}",
        "imagePullPolicy": "IfNotPresent",
        "args": ["serve"],
        "env": service_env(model, svc),
        "ports": [{"name": "http", "containerPort": svc.port, "protocol": "TCP"}],
        "startupProbe": http_probe("/healthz", 2, 30),
        "livenessProbe": http_probe("/healthz", 10, 3),
        "readinessProbe": http_probe("/readyz", 5, 3),
        "resources": resources(model.resources_of(svc)),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "model", "mountPath": MODEL_MOUNT, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return k8s(
        "apps/v1", "Deployment", svc.name, model.platform.namespace, labels=lab,
        spec={
            "replicas": svc.scaling.min,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(model, svc.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": lab, "annotations": {"netshop.io/model-checksum": checksum or model_checksum(model)}},
                "spec": {
                    "serviceAccountName": svc.name,
                    "automountServiceAccountToken": bool(svc.kube_access),
                    "securityContext": pod_security_context(APP_UID),
                    "terminationGracePeriodSeconds": 30,
                    **placement(model, svc.name, svc.zone_spread.max_skew, svc.zone_spread.when_unsatisfiable),
                    "containers": [container],
                    "volumes": [
                        {"name": "model", "configMap": {"name": f"{model.platform.name}-model"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    )


def k8s_service(model: NetShopModel, name: str, tier: str, port: int, headless: bool = False) -> dict:
    spec: dict = {}
    if headless:
        spec["clusterIP"] = "None"
    spec |= {
        "type": "ClusterIP",
        "selector": selector(model, name),
        "ports": [{"name": "tcp" if headless else "http", "port": port, "targetPort": port, "protocol": "TCP"}],
    }
    return k8s("v1", "Service", name, model.platform.namespace, labels=labels(model, name, tier), spec=spec)


def hpa(model: NetShopModel, svc: Service) -> dict:
    sc = svc.scaling
    metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": sc.cpu_utilization}}}]
    if sc.memory_utilization:
        metrics.append({"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": sc.memory_utilization}}})
    return k8s(
        "autoscaling/v2", "HorizontalPodAutoscaler", svc.name, model.platform.namespace, labels=labels(model, svc.name, svc.tier),
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": svc.name},
            "minReplicas": sc.min,
            "maxReplicas": sc.max,
            "metrics": metrics,
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": sc.scale_up_window_seconds,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 15},
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                    ],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": sc.scale_down_window_seconds,
                    "selectPolicy": "Min",
                    "policies": [{"type": "Percent", "value": 20, "periodSeconds": 60}],
                },
            },
        },
    )


def pdb(model: NetShopModel, svc: Service) -> dict:
    return k8s(
        "policy/v1", "PodDisruptionBudget", svc.name, model.platform.namespace, labels=labels(model, svc.name, svc.tier),
        spec={"maxUnavailable": 1, "selector": {"matchLabels": selector(model, svc.name)}},
    )


# --------------------------------------------------------------------------- datastores


def datastore_env(model: NetShopModel, ds: Datastore) -> list[dict]:
    secret = lambda: {"secretKeyRef": {"name": model.platform.datastore_secret, "key": f"{ds.name}-password"}}  # noqa: E731
    if ds.kind == "postgres":
        return [
            {"name": "POSTGRES_USER", "value": "netshop"},
            {"name": "POSTGRES_DB", "value": "netshop"},
            {"name": "POSTGRES_PASSWORD", "valueFrom": secret()},
            {"name": "PGDATA", "value": f"{ENGINES['postgres']['data']}/pgdata"},
        ]
    if ds.kind == "redis":
        return [{"name": "REDIS_PASSWORD", "valueFrom": secret()}]
    return [
        {"name": "RABBITMQ_DEFAULT_USER", "value": "netshop"},
        {"name": "RABBITMQ_DEFAULT_PASS", "valueFrom": secret()},
        {"name": "RABBITMQ_DEFAULT_VHOST", "value": "netshop"},
    ]


def statefulset(model: NetShopModel, ds: Datastore) -> dict:
    engine = ENGINES[ds.kind]
    lab = labels(model, ds.name, "data")
    container: dict = {
        "name": ds.name,
        "image": ds.image,
        "imagePullPolicy": "IfNotPresent",
    }
    if ds.kind == "redis":
        container["args"] = ["redis-server", "--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes", "--dir", engine["data"]]
    container |= {
        "env": datastore_env(model, ds),
        "ports": [{"name": "tcp", "containerPort": ds.port, "protocol": "TCP"}],
        "startupProbe": {"exec": {"command": engine["probe"]}, "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 60},
        "livenessProbe": {"tcpSocket": {"port": "tcp"}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 6},
        "readinessProbe": {"exec": {"command": engine["probe"]}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "resources": resources(ds.resources),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "data", "mountPath": engine["data"]}]
        + [{"name": f"scratch-{i}", "mountPath": p} for i, p in enumerate(engine["scratch"])],
    }
    return k8s(
        "apps/v1", "StatefulSet", ds.name, model.platform.namespace, labels=lab,
        spec={
            "serviceName": ds.name,
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(model, ds.name)},
            "template": {
                "metadata": {"labels": lab},
                "spec": {
                    "serviceAccountName": ds.name,
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(ds.run_as_user),
                    "terminationGracePeriodSeconds": 60,
                    **placement(model, ds.name, 1, "DoNotSchedule"),
                    "containers": [container],
                    "volumes": [{"name": f"scratch-{i}", "emptyDir": {}} for i in range(len(engine["scratch"]))],
                },
            },
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "labels": lab},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": ds.storage}}},
                }
            ],
        },
    )


# --------------------------------------------------------------------------- edge


def ingress(model: NetShopModel) -> dict:
    ing = model.platform.ingress
    web = model.service_by_name[ing.service]
    return k8s(
        "networking.k8s.io/v1", "Ingress", model.platform.name, model.platform.namespace,
        labels=labels(model, web.name, web.tier),
        spec={
            "ingressClassName": ing.class_name,
            "tls": [{"hosts": [ing.host], "secretName": ing.tls_secret}],
            "rules": [
                {
                    "host": ing.host,
                    "http": {
                        "paths": [
                            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": web.name, "port": {"name": "http"}}}}
                        ]
                    },
                }
            ],
        },
    )


# --------------------------------------------------------------------------- everything


def objects(model: NetShopModel) -> list[dict]:
    """Every object the chart deploys, in apply order (namespace and governance first)."""
    from .networkpolicies import policies

    checksum = model_checksum(model)  # serialising the model is the costliest step: do it once
    objs: list[dict] = [namespace(model), resource_quota(model), limit_range(model), model_configmap(model)]
    for svc in model.services:
        objs.append(service_account(model, svc.name, svc.tier, bool(svc.kube_access)))
    for ds in model.datastores:
        objs.append(service_account(model, ds.name, "data", False))
    for svc in model.services:
        objs.extend(rbac(model, svc))
    objs.extend(policies(model))
    for ds in model.datastores:
        objs.append(k8s_service(model, ds.name, "data", ds.port, headless=True))
        objs.append(statefulset(model, ds))
    for svc in model.services:
        objs.append(k8s_service(model, svc.name, svc.tier, svc.port))
        objs.append(deployment(model, svc, checksum))
        objs.append(hpa(model, svc))
        if svc.scaling.min > 1:
            objs.append(pdb(model, svc))
    objs.append(ingress(model))
    return objs
