"""Kustomize: a base of the rendered objects, and one overlay per cloud of the model.

The base is `generators.k8s.objects(model)` split into files by kind group. Each overlay
(`overlays/<cloud>`) patches only what differs per cloud, all taken from the model's `clouds`:
the zone names the workloads are pinned to, the datastores' StorageClass, the IngressClass and its
annotations, where ingress traffic comes from, and the replica floors per tier. The kind overlay
also carries the kind cluster config (one labelled worker per zone), which is not a kustomize
resource.
"""

from __future__ import annotations

from collections.abc import Iterator

from model.schema import Cloud, NetShopModel

from . import k8s
from .base import Artifact, header, to_yaml, yaml_file, yaml_stream
from .base import k8s as k8s_object
from .networkpolicies import ingress_policy

ROOTS = ("kustomize/",)
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
CLOUD_LABEL = "netshop.io/cloud"

# Base files in apply order, and the kinds each holds. A kind missing here is a generator error.
BASE_FILES: dict[str, tuple[str, ...]] = {
    "namespace.yaml": ("Namespace", "ResourceQuota", "LimitRange"),
    "config.yaml": ("ConfigMap",),
    "rbac.yaml": ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"),
    "networkpolicies.yaml": ("NetworkPolicy",),
    "services.yaml": ("Service",),
    "workloads.yaml": ("StatefulSet", "Deployment"),
    "autoscaling.yaml": ("HorizontalPodAutoscaler", "PodDisruptionBudget"),
    "ingress.yaml": ("Ingress",),
}
ZONE_VALUES = "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0/values"


def kustomization(**fields) -> dict:
    return {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", **fields}


def split_by_kind(objs: list[dict]) -> dict[str, list[dict]]:
    """The objects grouped into the base files, keeping apply order inside each file."""
    file_of = {kind: name for name, kinds in BASE_FILES.items() for kind in kinds}
    unknown = sorted({o["kind"] for o in objs} - set(file_of))
    if unknown:
        raise ValueError(f"kustomize base has no file for kind(s) {', '.join(unknown)}; add them to BASE_FILES")
    files: dict[str, list[dict]] = {}
    for name in BASE_FILES:
        docs = [o for o in objs if file_of[o["kind"]] == name]
        if docs:
            files[name] = docs
    return files


def base(model: NetShopModel) -> Iterator[Artifact]:
    files = split_by_kind(k8s.objects(model))
    for name, docs in files.items():
        yield Artifact(f"kustomize/base/{name}", yaml_stream(docs, __name__))
    yield Artifact("kustomize/base/kustomization.yaml", yaml_file(kustomization(resources=list(files)), __name__))


# --------------------------------------------------------------------------- overlays


def _target(obj: dict) -> dict:
    return {"kind": obj["kind"], "name": obj["metadata"]["name"]}


def zone_patch(model: NetShopModel, cloud: Cloud) -> list[dict]:
    """JSON patch: the node affinity's zone values become the cloud's zone names (the test op guards the base)."""
    zones = [z.name for z in model.platform.zones]
    return [
        {"op": "test", "path": ZONE_VALUES, "value": zones},
        {"op": "replace", "path": ZONE_VALUES, "value": [cloud.zones[z] for z in zones]},
    ]


def storage_patch(cloud: Cloud) -> list[dict]:
    return [{"op": "add", "path": "/spec/volumeClaimTemplates/0/spec/storageClassName", "value": cloud.storage_class}]


def ingress_patch(cloud: Cloud) -> list[dict]:
    ops: list[dict] = [{"op": "replace", "path": "/spec/ingressClassName", "value": cloud.ingress_class}]
    if cloud.ingress_annotations:
        ops.append({"op": "add", "path": "/metadata/annotations", "value": dict(sorted(cloud.ingress_annotations.items()))})
    return ops


def ingress_source_patch(model: NetShopModel, cloud: Cloud) -> list[dict]:
    return [{"op": "replace", "path": "/spec/ingress", "value": ingress_policy(model, cloud.ingress_source)["spec"]["ingress"]}]


def replica_patches(model: NetShopModel, cloud: Cloud) -> tuple[list[dict], list[dict]]:
    """Strategic-merge patches for the cloud's replica floors, and PDBs the floors newly call for."""
    ns = model.platform.namespace
    patches: list[dict] = []
    added: list[dict] = []
    for svc in model.services:
        floor = model.min_replicas(svc, cloud)
        if floor == svc.scaling.min:
            continue
        patches.append(k8s_object("apps/v1", "Deployment", svc.name, ns, spec={"replicas": floor}))
        hpa_spec: dict = {"minReplicas": floor}
        if floor > svc.scaling.max:
            hpa_spec["maxReplicas"] = floor
        patches.append(k8s_object("autoscaling/v2", "HorizontalPodAutoscaler", svc.name, ns, spec=hpa_spec))
        if svc.scaling.min > 1 and floor <= 1:
            patches.append({**k8s_object("policy/v1", "PodDisruptionBudget", svc.name, ns), "$patch": "delete"})
        elif svc.scaling.min <= 1 < floor:
            added.append(k8s.pdb(model, svc))
    return patches, added


def kind_cluster(model: NetShopModel, cloud: Cloud) -> dict:
    """kind config: a control plane that hosts ingress-nginx on ports 80/443, and the workers of every zone."""
    control = {
        "role": "control-plane",
        "labels": {"ingress-ready": "true"},
        "extraPortMappings": [
            {"containerPort": 80, "hostPort": 80, "protocol": "TCP"},
            {"containerPort": 443, "hostPort": 443, "protocol": "TCP"},
        ],
    }
    workers = [
        {"role": "worker", "labels": {k8s.ZONE_KEY: cloud.zones[z.name]}}
        for z in model.platform.zones
        for _ in range(cloud.nodes_per_zone)
    ]
    return {"apiVersion": "kind.x-k8s.io/v1alpha4", "kind": "Cluster", "name": model.platform.name, "nodes": [control, *workers]}


def overlay(model: NetShopModel, cloud: Cloud) -> Iterator[Artifact]:
    root = f"kustomize/overlays/{cloud.name}"
    ingress = k8s.ingress(model)
    source_policy = ingress_policy(model, model.platform.ingress.source)
    patches: list[dict] = [
        {"path": "patches/zones.yaml", "target": {"kind": "Deployment"}},
        {"path": "patches/zones.yaml", "target": {"kind": "StatefulSet"}},
        {"path": "patches/storage-class.yaml", "target": {"kind": "StatefulSet"}},
        {"path": "patches/ingress.yaml", "target": _target(ingress)},
        {"path": "patches/ingress-source.yaml", "target": _target(source_policy)},
    ]
    yield Artifact(f"{root}/patches/zones.yaml", yaml_file(zone_patch(model, cloud), __name__))
    yield Artifact(f"{root}/patches/storage-class.yaml", yaml_file(storage_patch(cloud), __name__))
    yield Artifact(f"{root}/patches/ingress.yaml", yaml_file(ingress_patch(cloud), __name__))
    yield Artifact(f"{root}/patches/ingress-source.yaml", yaml_file(ingress_source_patch(model, cloud), __name__))
    replica, added = replica_patches(model, cloud)
    if replica:
        patches.append({"path": "patches/replicas.yaml"})
        yield Artifact(f"{root}/patches/replicas.yaml", yaml_stream(replica, __name__))
    resources = ["../../base"]
    if added:
        resources.append("pdbs.yaml")
        yield Artifact(f"{root}/pdbs.yaml", yaml_stream(added, __name__))
    doc = kustomization(
        resources=resources,
        labels=[{"pairs": {CLOUD_LABEL: cloud.name}, "includeSelectors": False, "includeTemplates": False}],
        patches=patches,
    )
    yield Artifact(f"{root}/kustomization.yaml", yaml_file(doc, __name__))
    if cloud.name == "kind":
        note = f"# Not a kustomize resource: kind create cluster --config generated/{root}/kind-cluster.yaml\n"
        yield Artifact(f"{root}/kind-cluster.yaml", header(__name__) + note + to_yaml(kind_cluster(model, cloud)))


# --------------------------------------------------------------------------- README


def readme(model: NetShopModel) -> str:
    p = model.platform
    rows = []
    for c in model.clouds:
        floors = ", ".join(f"{t}: {n}" for t, n in sorted(c.replicas.items())) or "the model's"
        source = f"pods `{c.ingress_source.namespace}`" if c.ingress_source.namespace else ", ".join(f"`{x}`" for x in c.ingress_source.cidrs)
        rows.append(
            f"| `{c.name}` | {c.title} | {c.region} | {', '.join(f'`{c.zones[z.name]}`' for z in p.zones)} | "
            f"`{c.storage_class}` | `{c.ingress_class}` | {source} | {floors} |"
        )
    kind = next((c for c in model.clouds if c.name == "kind"), None)
    lines = [
        header(__name__, comment="<!--").rstrip("\n") + " -->",
        f"# Kustomize: `{p.name}` base and cloud overlays",
        "",
        "`base/` holds every object of `generated/k8s/netshop.yaml`, split by kind. Each overlay changes only what "
        "differs per cloud, taken from `clouds` in `model/netshop.yaml`, and labels every object "
        f"`{CLOUD_LABEL}: <cloud>`:",
        "",
        f"- the `{k8s.ZONE_KEY}` values every Deployment and StatefulSet is pinned to, mapped to the cloud's zone names;",
        "- the StorageClass of the datastores' volumes;",
        "- the IngressClass and the cloud's Ingress annotations;",
        "- where ingress traffic to the web service comes from (controller pods, or the load balancer's ranges);",
        "- the replica floor per tier (Deployment replicas and HPA minReplicas; PDBs follow the floor).",
        "",
        "| Overlay | Cloud | Region | Zones | StorageClass | IngressClass | Ingress from | Replicas at rest per tier |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Build or apply one (the Secrets the workloads reference are created outside; see the chart README):",
        "",
        "```sh",
        "kubectl kustomize generated/kustomize/overlays/<cloud>",
        "kubectl apply -k generated/kustomize/overlays/<cloud>",
        "```",
    ]
    if kind:
        lines += [
            "",
            "Locally, `overlays/kind/kind-cluster.yaml` creates a cluster with one control plane (ports 80 and 443 for "
            f"ingress-nginx) and {kind.nodes_per_zone} worker(s) per zone, labelled `{k8s.ZONE_KEY}`:",
            "",
            "```sh",
            "kind create cluster --config generated/kustomize/overlays/kind/kind-cluster.yaml",
            "kubectl apply -k generated/kustomize/overlays/kind",
            "```",
        ]
    return "\n".join(lines) + "\n"


def generate(model: NetShopModel) -> Iterator[Artifact]:
    yield from base(model)
    for cloud in model.clouds:
        yield from overlay(model, cloud)
    yield Artifact("kustomize/README.md", readme(model))
