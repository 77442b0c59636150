"""The platform add-ons (operators and controllers) the enterprise bundles need, with pinned charts.

These are add-on facts, not platform facts: where each operator runs and which Helm chart installs
it. The GitOps family turns them into Argo CD Applications, the HA data tier's NetworkPolicies let
the operators reach their pods, and the Ansible playbooks install them from the generated
Applications, so each fact is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Addon:
    """An operator or controller installed from a Helm chart into its own namespace."""

    name: str
    namespace: str
    repo: str
    chart: str
    version: str
    purpose: str
    labels: tuple[tuple[str, str], ...] = ()  # labels of the operator pods, for NetworkPolicies

    @property
    def pod_labels(self) -> dict[str, str]:
        return dict(self.labels)


ARGOCD = Addon("argo-cd", "argocd", "https://argoproj.github.io/argo-helm", "argo-cd", "9.1.4",
               "GitOps controller that syncs the app-of-apps (installed first, then manages itself)")

ADDONS: tuple[Addon, ...] = (
    ARGOCD,
    Addon("argo-rollouts", "argo-rollouts", "https://argoproj.github.io/argo-helm", "argo-rollouts", "2.40.5",
          "Canary and blue-green releases of the edge services"),
    Addon("cloudnative-pg", "cnpg-system", "https://cloudnative-pg.github.io/charts", "cloudnative-pg", "0.27.0",
          "PostgreSQL operator (Cluster, Pooler, ScheduledBackup, Database)",
          (("app.kubernetes.io/name", "cloudnative-pg"),)),
    Addon("plugin-barman-cloud", "cnpg-system", "https://cloudnative-pg.github.io/charts", "plugin-barman-cloud", "0.4.0",
          "WAL archiving and base backups to object storage (ObjectStore)"),
    Addon("rabbitmq-cluster-operator", "rabbitmq-system", "https://charts.bitnami.com/bitnami", "rabbitmq-cluster-operator",
          "4.4.34", "RabbitMQ cluster and messaging-topology operators",
          (("app.kubernetes.io/part-of", "rabbitmq"),)),
    Addon("kyverno", "kyverno", "https://kyverno.github.io/kyverno", "kyverno", "3.6.1",
          "Admission policies: signed images, non-root, no :latest, limits"),
    Addon("sealed-secrets", "kube-system", "https://bitnami-labs.github.io/sealed-secrets", "sealed-secrets", "2.17.9",
          "Decrypts SealedSecrets committed to Git"),
    Addon("external-secrets", "external-secrets", "https://charts.external-secrets.io", "external-secrets", "1.1.0",
          "Syncs Secrets from the cloud's secret manager"),
)

ADDON_BY_NAME = {a.name: a for a in ADDONS}

# Where Prometheus answers queries (the Prometheus Operator's governing Service in the scraper namespace).
PROMETHEUS_SERVICE = "prometheus-operated"
PROMETHEUS_PORT = 9090
