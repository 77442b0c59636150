"""Terraform for a regional, multi-zone cluster on each managed cloud of the model.

Region, zones, node type and nodes per zone come from `model.clouds`; the local `kind` cloud has no
Terraform. Each cloud gets `terraform/<cloud>/main.tf`:
- GKE: a regional cluster over the model's zones (Dataplane V2 enforces NetworkPolicies), workload
  identity, shielded nodes, and one node pool with `nodes_per_zone` nodes in each zone.
- EKS: a cluster in the operator's private subnets, one managed node group per zone.
- AKS: a cluster whose node pool spans the availability zones, Azure CNI with Cilium policies.
- DOKS: DigitalOcean has no availability zones inside a region, so the cluster gets one node pool per
  model zone, and each pool labels its nodes `topology.kubernetes.io/zone` with the model's zone
  value: the zone spread and anti-affinity of the manifests then hold across pools (not failure domains).

The HCL is written in `terraform fmt` layout (two-space indent, aligned `=` in a run of attributes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from model.schema import Cloud, NetShopModel

from .base import Artifact, header
from .k8s import ZONE_KEY

ROOTS = ("terraform/",)

K8S_VERSION = "1.30"
PROVIDERS = {
    "gke": ("google", "hashicorp/google", "~> 6.0"),
    "eks": ("aws", "hashicorp/aws", "~> 5.0"),
    "aks": ("azurerm", "hashicorp/azurerm", "~> 4.0"),
    "doks": ("digitalocean", "digitalocean/digitalocean", "~> 2.0"),
}


# --------------------------------------------------------------------------- a small HCL writer


class Raw(str):
    """An HCL expression written as is (references, function calls)."""


@dataclass
class Block:
    type: str
    labels: list[str] = field(default_factory=list)
    body: list = field(default_factory=list)  # (name, value) pairs, Blocks, or "# comment" strings


def _value(v, indent: int) -> str:
    pad = "  " * indent
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x, indent) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        keys = [json.dumps(k) if not k.isidentifier() else k for k in v]
        width = max(len(k) for k in keys)
        lines = [f"{pad}  {k.ljust(width)} = {_value(x, indent + 1)}" for k, x in zip(keys, v.values())]
        return "{\n" + "\n".join(lines) + f"\n{pad}}}"
    raise TypeError(f"no HCL for {type(v).__name__}")


def _body(items: list, indent: int) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    run: list[tuple[str, object]] = []

    def flush() -> None:
        if run:
            width = max(len(k) for k, _ in run)
            out.extend(f"{pad}{k.ljust(width)} = {_value(v, indent)}" for k, v in run)
            run.clear()

    for i, item in enumerate(items):
        if isinstance(item, Block):
            flush()
            if out and out[-1] != "":
                out.append("")
            out.extend(_block(item, indent))
            if i < len(items) - 1:
                out.append("")
        elif isinstance(item, str):
            flush()
            out.append(f"{pad}{item}")
        else:
            key, value = item
            if isinstance(value, dict) and value:
                flush()  # a multi-line object stands in its own run
                out.append(f"{pad}{key} = {_value(value, indent)}")
            else:
                run.append((key, value))
    flush()
    return out


def _block(b: Block, indent: int = 0) -> list[str]:
    pad = "  " * indent
    head = " ".join([b.type, *(json.dumps(label) for label in b.labels)])
    if not b.body:
        return [f"{pad}{head} {{}}"]
    return [f"{pad}{head} {{", *_body(b.body, indent + 1), f"{pad}}}"]


def hcl(blocks: list[Block]) -> str:
    return "\n\n".join("\n".join(_block(b)) for b in blocks) + "\n"


# --------------------------------------------------------------------------- shared pieces


def cluster_name(model: NetShopModel, cloud: Cloud) -> str:
    return f"{model.platform.name}-{cloud.name}"


def cloud_zones(model: NetShopModel, cloud: Cloud) -> list[tuple[str, str]]:
    """(model zone, cloud zone) in the model's placement order."""
    return [(z.name, cloud.zones[z.name]) for z in model.platform.zones if z.name in cloud.zones]


def _terraform(cloud: Cloud) -> Block:
    local, source, version = PROVIDERS[cloud.name]
    return Block("terraform", body=[
        ("required_version", ">= 1.6"),
        Block("required_providers", body=[(local, {"source": source, "version": version})]),
    ])


def _labels(model: NetShopModel) -> dict[str, str]:
    return {"platform": model.platform.name, "managed-by": "terraform"}


def _outputs(name: str, expr: str) -> list[Block]:
    return [Block("output", ["cluster_name"], [("description", "Name of the cluster"), ("value", Raw(expr))])]


# --------------------------------------------------------------------------- clouds


def gke(model: NetShopModel, cloud: Cloud) -> list[Block]:
    name = cluster_name(model, cloud)
    zones = [z for _, z in cloud_zones(model, cloud)]
    return [
        _terraform(cloud),
        Block("variable", ["project_id"], [("description", "Google Cloud project of the cluster"), ("type", Raw("string")), ("default", name)]),
        Block("variable", ["authorized_cidr"], [("description", "Address range allowed to reach the control plane"), ("type", Raw("string"))]),
        Block("variable", ["rbac_security_group"], [("description", "Google Group (gke-security-groups@<domain>) whose members get Kubernetes RBAC"), ("type", Raw("string"))]),
        Block("provider", ["google"], [("project", Raw("var.project_id")), ("region", cloud.region)]),
        Block("resource", ["google_container_cluster", "platform"], [
            ("name", name),
            ("location", cloud.region),
            ("node_locations", zones),
            ("min_master_version", K8S_VERSION),
            ("remove_default_node_pool", True),
            ("initial_node_count", 1),
            ("networking_mode", "VPC_NATIVE"),
            ("datapath_provider", "ADVANCED_DATAPATH"),
            ("enable_shielded_nodes", True),
            ("enable_intranode_visibility", True),
            ("deletion_protection", True),
            ("resource_labels", _labels(model)),
            "#checkov:skip=CKV_GCP_69:the default node pool is removed; the workers pool sets workload_metadata_config GKE_METADATA",
            Block("ip_allocation_policy"),
            Block("authenticator_groups_config", body=[("security_group", Raw("var.rbac_security_group"))]),
            Block("release_channel", body=[("channel", "REGULAR")]),
            Block("workload_identity_config", body=[("workload_pool", Raw('"${var.project_id}.svc.id.goog"'))]),
            Block("private_cluster_config", body=[("enable_private_nodes", True), ("enable_private_endpoint", False), ("master_ipv4_cidr_block", "172.16.0.0/28")]),
            Block("master_authorized_networks_config", body=[
                Block("cidr_blocks", body=[("cidr_block", Raw("var.authorized_cidr")), ("display_name", "operators")]),
            ]),
            Block("binary_authorization", body=[("evaluation_mode", "PROJECT_SINGLETON_POLICY_ENFORCE")]),
            Block("master_auth", body=[Block("client_certificate_config", body=[("issue_client_certificate", False)])]),
            Block("network_policy", body=[("enabled", False), ("provider", "PROVIDER_UNSPECIFIED")]),
            "# Dataplane V2 (ADVANCED_DATAPATH) enforces NetworkPolicies itself; the Calico add-on stays off.",
        ]),
        Block("resource", ["google_container_node_pool", "workers"], [
            ("name", "workers"),
            ("cluster", Raw("google_container_cluster.platform.id")),
            ("location", cloud.region),
            ("node_locations", zones),
            ("node_count", cloud.nodes_per_zone),
            "# node_count is per zone in a regional pool.",
            Block("management", body=[("auto_repair", True), ("auto_upgrade", True)]),
            Block("node_config", body=[
                ("machine_type", cloud.node_type),
                ("image_type", "COS_CONTAINERD"),
                ("labels", _labels(model)),
                Block("shielded_instance_config", body=[("enable_secure_boot", True), ("enable_integrity_monitoring", True)]),
                Block("workload_metadata_config", body=[("mode", "GKE_METADATA")]),
            ]),
        ]),
        *_outputs(name, "google_container_cluster.platform.name"),
    ]


def eks(model: NetShopModel, cloud: Cloud) -> list[Block]:
    name = cluster_name(model, cloud)
    pairs = cloud_zones(model, cloud)
    zones = [z for _, z in pairs]
    body: list = [
        _terraform(cloud),
        Block("variable", ["private_subnet_ids"], [
            ("description", "Private subnet of the cluster in each availability zone, keyed by zone"),
            ("type", Raw("map(string)")),
            Block("validation", body=[
                ("condition", Raw(f"length(setsubtract({_value(zones, 1)}, keys(var.private_subnet_ids))) == 0")),
                ("error_message", f"Give one private subnet for each zone: {', '.join(zones)}."),
            ]),
        ]),
        Block("variable", ["kms_key_arn"], [("description", "KMS key that encrypts Kubernetes Secrets"), ("type", Raw("string"))]),
        Block("provider", ["aws"], [("region", cloud.region), Block("default_tags", body=[("tags", _labels(model))])]),
        Block("data", ["aws_iam_policy_document", "assume_eks"], [
            Block("statement", body=[("actions", ["sts:AssumeRole"]), Block("principals", body=[("type", "Service"), ("identifiers", ["eks.amazonaws.com"])])]),
        ]),
        Block("data", ["aws_iam_policy_document", "assume_ec2"], [
            Block("statement", body=[("actions", ["sts:AssumeRole"]), Block("principals", body=[("type", "Service"), ("identifiers", ["ec2.amazonaws.com"])])]),
        ]),
        Block("resource", ["aws_iam_role", "cluster"], [("name", f"{name}-cluster"), ("assume_role_policy", Raw("data.aws_iam_policy_document.assume_eks.json"))]),
        Block("resource", ["aws_iam_role_policy_attachment", "cluster"], [
            ("role", Raw("aws_iam_role.cluster.name")), ("policy_arn", "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"),
        ]),
        Block("resource", ["aws_iam_role", "nodes"], [("name", f"{name}-nodes"), ("assume_role_policy", Raw("data.aws_iam_policy_document.assume_ec2.json"))]),
        Block("resource", ["aws_iam_role_policy_attachment", "nodes"], [
            ("for_each", Raw('toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])')),
            ("role", Raw("aws_iam_role.nodes.name")),
            ("policy_arn", Raw('"arn:aws:iam::aws:policy/${each.value}"')),
        ]),
        Block("resource", ["aws_cloudwatch_log_group", "cluster"], [
            ("name", f"/aws/eks/{name}/cluster"), ("retention_in_days", 365), ("kms_key_id", Raw("var.kms_key_arn")),
        ]),
        Block("resource", ["aws_eks_cluster", "platform"], [
            ("name", name),
            ("version", K8S_VERSION),
            ("role_arn", Raw("aws_iam_role.cluster.arn")),
            ("enabled_cluster_log_types", ["api", "audit", "authenticator", "controllerManager", "scheduler"]),
            Block("vpc_config", body=[
                ("subnet_ids", Raw("[for zone in " + _value(zones, 2) + " : var.private_subnet_ids[zone]]")),
                ("endpoint_private_access", True),
                ("endpoint_public_access", False),
            ]),
            Block("encryption_config", body=[("resources", ["secrets"]), Block("provider", body=[("key_arn", Raw("var.kms_key_arn"))])]),
            Block("access_config", body=[("authentication_mode", "API")]),
            ("depends_on", Raw("[aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.cluster]")),
        ]),
    ]
    for model_zone, zone in pairs:
        body.append(Block("resource", ["aws_eks_node_group", model_zone.replace("-", "_")], [
            ("cluster_name", Raw("aws_eks_cluster.platform.name")),
            ("node_group_name", f"workers-{zone}"),
            ("node_role_arn", Raw("aws_iam_role.nodes.arn")),
            ("subnet_ids", Raw(f"[var.private_subnet_ids[{json.dumps(zone)}]]")),
            ("instance_types", [cloud.node_type]),
            ("labels", {"netshop.io/model-zone": model_zone}),
            Block("scaling_config", body=[("desired_size", cloud.nodes_per_zone), ("min_size", cloud.nodes_per_zone), ("max_size", cloud.nodes_per_zone * 2)]),
            Block("update_config", body=[("max_unavailable", 1)]),
            ("depends_on", Raw("[aws_iam_role_policy_attachment.nodes]")),
        ]))
    body += _outputs(name, "aws_eks_cluster.platform.name")
    return body


def aks(model: NetShopModel, cloud: Cloud) -> list[Block]:
    name = cluster_name(model, cloud)
    numbers = [z.rsplit("-", 1)[1] for _, z in cloud_zones(model, cloud)]  # westeurope-1 -> zone "1"
    return [
        _terraform(cloud),
        Block("variable", ["disk_encryption_set_id"], [("description", "Disk encryption set (customer-managed key) for node disks"), ("type", Raw("string"))]),
        Block("provider", ["azurerm"], [Block("features")]),
        Block("resource", ["azurerm_resource_group", "platform"], [("name", name), ("location", cloud.region), ("tags", _labels(model))]),
        Block("resource", ["azurerm_log_analytics_workspace", "platform"], [
            ("name", name),
            ("location", Raw("azurerm_resource_group.platform.location")),
            ("resource_group_name", Raw("azurerm_resource_group.platform.name")),
            ("sku", "PerGB2018"),
            ("retention_in_days", 90),
            ("tags", _labels(model)),
        ]),
        Block("resource", ["azurerm_kubernetes_cluster", "platform"], [
            ("name", name),
            ("location", Raw("azurerm_resource_group.platform.location")),
            ("resource_group_name", Raw("azurerm_resource_group.platform.name")),
            ("dns_prefix", name),
            ("kubernetes_version", K8S_VERSION),
            ("sku_tier", "Standard"),
            ("automatic_upgrade_channel", "patch"),
            ("oidc_issuer_enabled", True),
            ("workload_identity_enabled", True),
            ("azure_policy_enabled", True),
            ("local_account_disabled", True),
            ("private_cluster_enabled", True),
            ("disk_encryption_set_id", Raw("var.disk_encryption_set_id")),
            ("tags", _labels(model)),
            Block("default_node_pool", body=[
                ("name", "system"),
                ("vm_size", cloud.node_type),
                ("zones", numbers),
                ("node_count", len(numbers)),
                ("max_pods", 50),
                ("os_disk_type", "Ephemeral"),
                ("host_encryption_enabled", True),
                ("only_critical_addons_enabled", True),
            ]),
            Block("oms_agent", body=[("log_analytics_workspace_id", Raw("azurerm_log_analytics_workspace.platform.id"))]),
            Block("identity", body=[("type", "SystemAssigned")]),
            Block("network_profile", body=[
                ("network_plugin", "azure"), ("network_plugin_mode", "overlay"), ("network_data_plane", "cilium"), ("network_policy", "cilium"),
            ]),
            Block("azure_active_directory_role_based_access_control", body=[("azure_rbac_enabled", True)]),
            Block("key_vault_secrets_provider", body=[("secret_rotation_enabled", True)]),
        ]),
        Block("resource", ["azurerm_kubernetes_cluster_node_pool", "workers"], [
            ("name", "workers"),
            ("kubernetes_cluster_id", Raw("azurerm_kubernetes_cluster.platform.id")),
            ("vm_size", cloud.node_type),
            ("zones", numbers),
            ("node_count", cloud.nodes_per_zone * len(numbers)),
            "# Azure balances a zonal pool's nodes across its zones: nodes_per_zone in each.",
            ("max_pods", 50),
            ("os_disk_type", "Ephemeral"),
            ("host_encryption_enabled", True),
            ("mode", "User"),
            ("tags", _labels(model)),
        ]),
        *_outputs(name, "azurerm_kubernetes_cluster.platform.name"),
    ]


def doks(model: NetShopModel, cloud: Cloud) -> list[Block]:
    name = cluster_name(model, cloud)
    pairs = cloud_zones(model, cloud)

    def pool(model_zone: str, zone: str, top: bool) -> list:
        body: list = [
            ("name", f"workers-{model_zone}"),
            ("size", cloud.node_type),
            ("node_count", cloud.nodes_per_zone),
            ("labels", {ZONE_KEY: zone, "netshop.io/model-zone": model_zone}),
        ]
        return body if top else [("cluster_id", Raw("digitalocean_kubernetes_cluster.platform.id")), *body]

    first, rest = pairs[0], pairs[1:]
    blocks = [
        _terraform(cloud),
        Block("variable", ["kubernetes_version"], [("description", "DOKS version slug of the 1.30 line"), ("type", Raw("string")), ("default", f"{K8S_VERSION}.10-do.0")]),
        "",
        Block("resource", ["digitalocean_kubernetes_cluster", "platform"], [
            ("name", name),
            ("region", cloud.region),
            ("version", Raw("var.kubernetes_version")),
            ("ha", True),
            ("auto_upgrade", True),
            ("surge_upgrade", True),
            ("tags", [model.platform.name]),
            "# DOKS has no availability zones within a region: each model zone is a node pool whose",
            "# nodes carry the zone label, so the manifests' zone spread holds across pools.",
            Block("node_pool", body=pool(*first, top=True)),
            Block("maintenance_policy", body=[("day", "sunday"), ("start_time", "03:00")]),
        ]),
    ]
    blocks = [b for b in blocks if isinstance(b, Block)]
    for model_zone, zone in rest:
        blocks.append(Block("resource", ["digitalocean_kubernetes_node_pool", model_zone.replace("-", "_")], pool(model_zone, zone, top=False)))
    blocks += _outputs(name, "digitalocean_kubernetes_cluster.platform.name")
    return blocks


BUILDERS = {"gke": gke, "eks": eks, "aks": aks, "doks": doks}


def generate(model: NetShopModel) -> Iterator[Artifact]:
    for cloud in model.clouds:
        if cloud.name in BUILDERS:  # `kind` is the local cluster: nothing to provision
            yield Artifact(f"terraform/{cloud.name}/main.tf", header(__name__) + "\n" + hcl(BUILDERS[cloud.name](model, cloud)))
