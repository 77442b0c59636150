"""Supply chain and policy: Kyverno admission policies and the secrets the platform reads.

- Kyverno `ClusterPolicy`s scoped to the platform namespace: the platform image must carry a cosign
  signature made by the repository's CI workflow (keyless, GitHub OIDC), pods run as non-root,
  no image uses `:latest` or no tag, and every container sets CPU and memory limits.
- External Secrets: one `ExternalSecret` per Secret the platform reads (the JWT key, the datastore
  passwords, the HA data tier's role and application credentials, the backup-store key), all from
  one ClusterSecretStore whose provider is the cloud's secret manager (`secret-stores/<cloud>.yaml`).
- Sealed Secrets: an example SealedSecret for the JWT key, for clusters without a secret manager
  (`examples/`, not synced: its ciphertext is made per cluster with `kubeseal`).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

from model.schema import Cloud, NetShopModel

from .base import Artifact, header, k8s, to_yaml, yaml_stream
from .data_ha import app_secret, backup_store_secret, ident, role_secret
from .k8s import datastore_env, platform_labels

ROOTS = ("security/",)

KYVERNO = "kyverno.io/v1"
ESO = "external-secrets.io/v1"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
REKOR = "https://rekor.sigstore.dev"
CI_WORKFLOW = ".github/workflows/ci.yml"
REFRESH = "1h"


def store_name(model: NetShopModel) -> str:
    return f"{model.platform.name}-secrets"


def _policy(model: NetShopModel, name: str, title: str, description: str, rule: dict) -> dict:
    return k8s(
        KYVERNO, "ClusterPolicy", f"{model.platform.name}-{name}", labels=platform_labels(model),
        annotations={
            "policies.kyverno.io/title": title,
            "policies.kyverno.io/category": "Supply chain" if name == "verify-image-signatures" else "Pod security",
            "policies.kyverno.io/severity": "high",
            "policies.kyverno.io/description": description,
        },
        spec={"background": name != "verify-image-signatures", "rules": [{"name": name, **rule}]},
    )


def _pods(model: NetShopModel) -> dict:
    return {"any": [{"resources": {"kinds": ["Pod"], "namespaces": [model.platform.namespace]}}]}


def signer_identity(model: NetShopModel) -> str:
    """The certificate identity cosign records for the CI workflow of the model's repository, on main."""
    repo = urlparse(model.platform.repository)
    path = repo.path.removesuffix(".git")
    return f"https://{repo.netloc}{path}/{CI_WORKFLOW}@refs/heads/main"


def kyverno_policies(model: NetShopModel) -> list[dict]:
    image = model.platform.image
    containers = ["containers", "initContainers", "ephemeralContainers"]
    return [
        _policy(
            model, "verify-image-signatures", "Verify the platform image signature",
            "The platform image must be signed by the repository's CI workflow (cosign keyless); it is pinned to its digest.",
            {
                "match": _pods(model),
                "verifyImages": [
                    {
                        "imageReferences": [f"{image}:*", f"{image}@*"],
                        "failureAction": "Enforce",
                        "mutateDigest": True,
                        "verifyDigest": True,
                        "required": True,
                        "attestors": [
                            {
                                "count": 1,
                                "entries": [
                                    {
                                        "keyless": {
                                            "issuer": GITHUB_ISSUER,
                                            "subject": signer_identity(model),
                                            "rekor": {"url": REKOR},
                                        }
                                    }
                                ],
                            }
                        ],
                    }
                ],
            },
        ),
        _policy(
            model, "require-non-root", "Require non-root containers",
            "Pods must set runAsNonRoot, at pod level or on every container.",
            {
                "match": _pods(model),
                "validate": {
                    "failureAction": "Enforce",
                    "message": "Set securityContext.runAsNonRoot to true on the pod or on every container.",
                    "anyPattern": [
                        {"spec": {"securityContext": {"runAsNonRoot": True}, **{f"=({c})": [{"=(securityContext)": {"=(runAsNonRoot)": True}}] for c in containers}}},
                        {"spec": {"containers": [{"securityContext": {"runAsNonRoot": True}}],
                                  **{f"=({c})": [{"securityContext": {"runAsNonRoot": True}}] for c in containers[1:]}}},
                    ],
                },
            },
        ),
        _policy(
            model, "disallow-latest-tag", "Disallow the latest tag",
            "Every image names an explicit tag or digest, and the tag is not `latest`.",
            {
                "match": _pods(model),
                "validate": {
                    "failureAction": "Enforce",
                    "message": "Use an explicit image tag or digest other than `latest`.",
                    "foreach": [
                        {
                            "list": "request.object.spec.[containers, initContainers, ephemeralContainers][]",
                            "deny": {
                                "conditions": {
                                    "any": [
                                        {"key": "{{ contains(element.image, ':') || contains(element.image, '@') }}", "operator": "Equals", "value": False},
                                        {"key": "{{ ends_with(element.image, ':latest') }}", "operator": "Equals", "value": True},
                                    ]
                                }
                            },
                        }
                    ],
                },
            },
        ),
        _policy(
            model, "require-limits", "Require CPU and memory limits",
            "Every container sets requests and limits for CPU and memory.",
            {
                "match": _pods(model),
                "validate": {
                    "failureAction": "Enforce",
                    "message": "Set resources.requests and resources.limits for cpu and memory on every container.",
                    "pattern": {
                        "spec": {
                            "containers": [{"resources": {"requests": {"cpu": "?*", "memory": "?*"}, "limits": {"cpu": "?*", "memory": "?*"}}}],
                            "=(initContainers)": [{"resources": {"limits": {"cpu": "?*", "memory": "?*"}}}],
                        }
                    },
                },
            },
        ),
    ]


# --------------------------------------------------------------------------- secrets


def platform_secrets(model: NetShopModel) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
    """Every Secret the bundles read: (name, type, literal keys, keys -> remote property), from the model."""
    p = model.platform
    out: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
        (p.jwt_secret, "Opaque", {}, {"secret": "secret"}),
        (p.datastore_secret, "Opaque", {}, {f"{d.name}-password": f"{d.name}-password" for d in model.datastores}),
        (backup_store_secret(model), "Opaque", {}, {"ACCESS_KEY_ID": "access-key-id", "ACCESS_SECRET_KEY": "access-secret-key"}),
    ]
    for ds in model.datastores:
        if ds.kind == "postgres":
            user = next(e["value"] for e in datastore_env(model, ds) if e["name"] == "POSTGRES_USER")
        elif ds.kind == "rabbitmq":
            user = next(e["value"] for e in datastore_env(model, ds) if e["name"] == "RABBITMQ_DEFAULT_USER")
        else:
            continue
        out.append((app_secret(ds), "kubernetes.io/basic-auth", {"username": user}, {"password": f"{ds.name}-password"}))
        if ds.kind == "postgres":
            for svc in model.clients_of(ds.name):
                out.append((role_secret(ds, svc), "kubernetes.io/basic-auth", {"username": ident(svc)},
                            {"password": f"{ds.name}-{svc}-password"}))
    return out


def external_secrets(model: NetShopModel) -> list[dict]:
    """One ExternalSecret per platform Secret; the remote secret is named like the Kubernetes one."""
    ns = model.platform.namespace
    out = []
    for name, kind, literal, remote in platform_secrets(model):
        template: dict = {"type": kind, "metadata": {"labels": platform_labels(model)}}
        if literal:
            template["data"] = {**literal, **{k: "{{ ." + k + " }}" for k in remote}}
        out.append(
            k8s(
                ESO, "ExternalSecret", name, ns, labels=platform_labels(model),
                spec={
                    "refreshInterval": REFRESH,
                    "secretStoreRef": {"kind": "ClusterSecretStore", "name": store_name(model)},
                    "target": {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain", "template": template},
                    "data": [{"secretKey": k, "remoteRef": {"key": name, "property": prop}} for k, prop in remote.items()],
                },
            )
        )
    return out


def _provider(model: NetShopModel, cloud: Cloud) -> dict:
    """The cloud's secret manager, reached with workload identity; clusters without one read a source namespace."""
    sa = {"name": "external-secrets", "namespace": "external-secrets"}
    name = model.platform.name
    if cloud.name == "gke":
        return {"gcpsm": {"projectID": f"{name}-{cloud.name}", "location": cloud.region, "auth": {"workloadIdentity": {
            "clusterLocation": cloud.region, "clusterName": f"{name}-{cloud.name}", "serviceAccountRef": sa}}}}
    if cloud.name == "eks":
        return {"aws": {"service": "SecretsManager", "region": cloud.region, "auth": {"jwt": {"serviceAccountRef": sa}}}}
    if cloud.name == "aks":
        return {"azurekv": {"authType": "WorkloadIdentity", "vaultUrl": f"https://{name}-{cloud.name}.vault.azure.net",
                            "serviceAccountRef": sa}}
    # kind and DigitalOcean have no managed secret manager: read Secrets kept in a locked-down namespace.
    return {"kubernetes": {"remoteNamespace": f"{name}-secrets-source", "server": {"caProvider": {
        "type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt", "namespace": "external-secrets"}},
        "auth": {"serviceAccount": {"name": "external-secrets", "namespace": "external-secrets"}}}}


def secret_store(model: NetShopModel, cloud: Cloud) -> dict:
    return k8s(
        ESO, "ClusterSecretStore", store_name(model), labels=platform_labels(model),
        annotations={"netshop.io/cloud": cloud.name},
        spec={
            "conditions": [{"namespaces": [model.platform.namespace]}],
            "provider": _provider(model, cloud),
        },
    )


SEAL_NOTE = """\
# Example, not synced: a SealedSecret is encrypted for one cluster's sealed-secrets controller.
# Make the real one with (scripts/deploy.sh does this when kubeseal is installed):
#   kubectl create secret generic {name} -n {ns} --from-literal=secret="$(openssl rand -hex 32)" \\
#     --dry-run=client -o yaml | kubeseal --controller-namespace kube-system -o yaml
# and commit its output in place of the ciphertext below.
"""


def sealed_jwt(model: NetShopModel) -> dict:
    p = model.platform
    return k8s(
        "bitnami.com/v1alpha1", "SealedSecret", p.jwt_secret, p.namespace, labels=platform_labels(model),
        spec={
            "encryptedData": {"secret": "REPLACE-WITH-KUBESEAL-OUTPUT"},
            "template": {"type": "Opaque", "metadata": {"name": p.jwt_secret, "namespace": p.namespace, "labels": platform_labels(model)}},
        },
    )


def generate(model: NetShopModel) -> Iterator[Artifact]:
    yield Artifact("security/policies/kyverno.yaml", yaml_stream(kyverno_policies(model), __name__))
    yield Artifact("security/policies/external-secrets.yaml", yaml_stream(external_secrets(model), __name__))
    for cloud in model.clouds:
        yield Artifact(f"security/secret-stores/{cloud.name}.yaml", yaml_stream([secret_store(model, cloud)], __name__))
    note = SEAL_NOTE.format(name=model.platform.jwt_secret, ns=model.platform.namespace)
    yield Artifact("security/examples/sealed-jwt-secret.yaml", header(__name__) + note + "---\n" + to_yaml(sealed_jwt(model)))
