"""The Helm chart: values generated from the model, and templates that loop over those values.

The chart is a view of the model, like every other artifact: `values.yaml` holds the knobs an
operator tunes (image, replicas, autoscaling, resources, zones, ingress, secrets ...), the templates
only `range` over them, and `files/model.json` is the model the services read. Rendered with the
release name and namespace of the model, the chart yields exactly `generators.k8s.objects(model)`;
the tests prove it with Helm's own engine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from model.schema import Datastore, NetShopModel, Service

from . import k8s
from .base import Artifact, header, json_file, to_yaml, yaml_file

ROOTS = ("helm/",)
KUBE_VERSION = ">=1.30.0-0"


def chart_dir(model: NetShopModel) -> str:
    return f"helm/{model.platform.name}"


# --------------------------------------------------------------------------- values


def _scaling(svc: Service) -> dict:
    sc = svc.scaling
    return {
        "enabled": True,
        "minReplicas": sc.min,
        "maxReplicas": sc.max,
        "cpuUtilization": sc.cpu_utilization,
        "memoryUtilization": sc.memory_utilization,
        "scaleUpWindowSeconds": sc.scale_up_window_seconds,
        "scaleDownWindowSeconds": sc.scale_down_window_seconds,
    }


def _rules(svc: Service, cluster: bool) -> list[dict]:
    return [
        {"apiGroups": [a.api_group], "resources": list(a.resources), "verbs": list(a.verbs)}
        for a in svc.kube_access
        if a.cluster_scoped == cluster
    ]


def service_values(model: NetShopModel, svc: Service) -> dict:
    return {
        "tier": svc.tier,
        "port": svc.port,
        "replicas": svc.scaling.min,
        "autoscaling": _scaling(svc),
        "resources": k8s.resources(model.resources_of(svc)),
        "zoneSpread": {"maxSkew": svc.zone_spread.max_skew, "whenUnsatisfiable": svc.zone_spread.when_unsatisfiable},
        "calls": model.peers_of(svc.name),
        "datastores": [d.name for d in model.datastores_of(svc.name)],
        "secrets": list(svc.secrets),
        "rbac": {"rules": _rules(svc, cluster=False), "clusterRules": _rules(svc, cluster=True)},
    }


def _env_values(model: NetShopModel, ds: Datastore) -> list[dict]:
    """The engine's env, with secret references reduced to the key in the datastore Secret."""
    out = []
    for e in k8s.datastore_env(model, ds):
        if "valueFrom" in e:
            out.append({"name": e["name"], "secretKey": e["valueFrom"]["secretKeyRef"]["key"]})
        else:
            out.append(dict(e))
    return out


def datastore_values(model: NetShopModel, ds: Datastore) -> dict:
    engine = k8s.ENGINES[ds.kind]
    container = k8s.statefulset(model, ds)["spec"]["template"]["spec"]["containers"][0]
    return {
        "kind": ds.kind,
        "image": ds.image,
        "port": ds.port,
        "podSecurityContext": k8s.pod_security_context(ds.run_as_user),
        "resources": k8s.resources(ds.resources),
        "persistence": {"size": ds.storage, "storageClassName": ""},
        "zoneSpread": {"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"},
        "dataPath": engine["data"],
        "scratchPaths": list(engine["scratch"]),
        "probeCommand": list(engine["probe"]),
        "args": list(container.get("args", [])),
        "env": _env_values(model, ds),
        "clientUrl": engine["url"],
    }


def _source(src) -> dict:
    return {"namespace": src.namespace or "", "podLabels": dict(src.labels), "cidrs": list(src.cidrs)}


def values(model: NetShopModel) -> dict:
    """Everything the templates read, derived from the model (and k8s.py's engine facts)."""
    p = model.platform
    ing, tel, dns, api = p.ingress, p.telemetry, p.dns, p.kubernetes_api
    d = p.default_resources
    limits = k8s.limit_range(model)["spec"]["limits"][0]
    probes = k8s.deployment(model, model.services[0])["spec"]["template"]["spec"]["containers"][0]
    return {
        "image": {"repository": p.image, "tag": "", "pullPolicy": "IfNotPresent"},
        "namespace": {"create": True, "podSecurity": {"level": "restricted", "version": "latest"}},
        "zones": [z.name for z in p.zones],
        "podSecurityContext": k8s.pod_security_context(k8s.APP_UID),
        "containerSecurityContext": dict(k8s.CONTAINER_SECURITY),
        "probes": {"startup": probes["startupProbe"], "liveness": probes["livenessProbe"], "readiness": probes["readinessProbe"]},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "quota": {"enabled": True, "hard": k8s.quota_figures(model)},
        "limitRange": {
            "enabled": True,
            "default": {"cpu": d.cpu_limit, "memory": d.memory_limit},
            "defaultRequest": {"cpu": d.cpu_request, "memory": d.memory_request},
            "max": limits["max"],
        },
        "secrets": {"jwt": {"name": p.jwt_secret, "key": "secret"}, "datastores": {"name": p.datastore_secret}},
        "telemetry": {
            "collector": {
                "namespace": tel.collector_namespace, "service": tel.collector_service, "podLabels": dict(tel.collector_labels),
                "otlpGrpcPort": tel.otlp_grpc_port, "otlpHttpPort": tel.otlp_http_port,
            },
            "scraper": {"namespace": tel.scraper_namespace, "podLabels": dict(tel.scraper_labels)},
        },
        "dns": {"namespace": dns.namespace, "podLabels": dict(dns.labels), "port": dns.port},
        "kubernetesApi": {"cidr": api.cidr, "ports": list(api.ports)},
        "networkPolicy": {"enabled": True},
        "ingress": {
            "enabled": True,
            "className": ing.class_name,
            "annotations": {},
            "host": ing.host,
            "service": ing.service,
            "tlsSecret": ing.tls_secret,
            "source": _source(ing.source),
        },
        "services": {s.name: service_values(model, s) for s in model.services},
        "datastores": {ds.name: datastore_values(model, ds) for ds in model.datastores},
    }


VALUE_NOTES = {
    "image": "The one service image; an empty tag means the chart's appVersion.",
    "namespace": "The chart owns the Namespace and its Pod Security Admission level (create: false if something else does).",
    "zones": "Values of the topology.kubernetes.io/zone node label: workloads are pinned to and spread across these.",
    "podSecurityContext": "Pod security of every service pod (the service image's non-root user).",
    "containerSecurityContext": "Security of every container, services and datastores alike.",
    "probes": "Startup, liveness and readiness probes of every service.",
    "podDisruptionBudget": "A PDB for every service whose floor is above one replica.",
    "quota": "Namespace ResourceQuota: every workload at its ceiling plus 25 % for rollouts.",
    "limitRange": "Defaults for containers without resources, and the largest a container may ask for.",
    "secrets": "Secrets the chart references but never creates (jwt: key `key`; datastores: keys `<datastore>-password`).",
    "telemetry": "OpenTelemetry Collector (OTLP export) and Prometheus (scrapes); the NetworkPolicies allow exactly these.",
    "dns": "Cluster DNS pods, the only DNS every pod may reach.",
    "kubernetesApi": "The API server, reachable only by services with RBAC rules.",
    "networkPolicy": "Default deny plus one egress and one ingress allow per edge (services.<name>.calls and .datastores).",
    "ingress": "The edge Ingress, and where its traffic comes from (controller pods, or load-balancer CIDRs).",
    "services": (
        "One entry per service. Tune replicas, autoscaling, resources and zoneSpread here; tier, port, calls, "
        "datastores, secrets and rbac mirror the model (the services read files/model.json), so change those in the model."
    ),
    "datastores": "One entry per datastore: image, resources, persistence (empty storageClassName: the cluster default), engine settings.",
}


def values_yaml(vals: dict) -> str:
    """values.yaml with a comment above each top-level key, so the file explains itself."""
    lines = ["# Knobs of the chart, generated from the model; README.md explains them. Override with -f or --set."]
    for line in to_yaml(vals).splitlines():
        key = line.split(":", 1)[0]
        if key in VALUE_NOTES and not line.startswith(" "):
            lines += ["", f"# {VALUE_NOTES[key]}"]
        lines.append(line)
    return header(__name__) + "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- values schema

_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_STRS = {"type": "array", "items": _STR}
_LABELS = {"type": "object", "additionalProperties": _STR}
_QTY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$"}
_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}


def _obj(props: dict, required: list[str] | None = None, description: str = "") -> dict:
    out: dict = {"type": "object"}
    if description:
        out["description"] = description
    out |= {"additionalProperties": False, "required": required if required is not None else list(props), "properties": props}
    return out


_RES_PAIR = _obj({"cpu": _QTY, "memory": _QTY})
_RESOURCES = _obj({"requests": _RES_PAIR, "limits": _RES_PAIR}, description="Container requests and limits.")
_SPREAD = _obj(
    {"maxSkew": {"type": "integer", "minimum": 1}, "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]}},
    description="Topology spread across topology.kubernetes.io/zone.",
)
_RULE = _obj({"apiGroups": _STRS, "resources": _STRS, "verbs": _STRS})
_SOURCE = _obj(
    {"namespace": _STR, "podLabels": _LABELS, "cidrs": _STRS},
    description="Ingress controller pods (namespace + podLabels) or load-balancer CIDRs.",
)
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}


def values_schema(model: NetShopModel) -> dict:
    """JSON Schema of values.yaml: Helm rejects a typo or a wrong type before rendering."""
    service = _obj(
        {
            "tier": {"enum": [t.name for t in model.platform.tiers if t.name != "data"]},
            "port": _PORT,
            "replicas": {"type": "integer", "minimum": 1},
            "autoscaling": _obj(
                {
                    "enabled": _BOOL,
                    "minReplicas": {"type": "integer", "minimum": 1},
                    "maxReplicas": {"type": "integer", "minimum": 1},
                    "cpuUtilization": {"type": "integer", "minimum": 1, "maximum": 100},
                    "memoryUtilization": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
                    "scaleUpWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
                    "scaleDownWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
                },
                # Helm drops null values when it merges, so an unset memory target is an absent key.
                required=["enabled", "minReplicas", "maxReplicas", "cpuUtilization", "scaleUpWindowSeconds", "scaleDownWindowSeconds"],
            ),
            "resources": _RESOURCES,
            "zoneSpread": _SPREAD,
            "calls": {"type": "array", "items": _NAME, "description": "Services this one calls (NetworkPolicy edges)."},
            "datastores": {"type": "array", "items": _NAME, "description": "Datastores this one connects to."},
            "secrets": {"type": "array", "items": {"enum": ["jwt"]}},
            "rbac": _obj({"rules": {"type": "array", "items": _RULE}, "clusterRules": {"type": "array", "items": _RULE}}),
        }
    )
    env = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": _STR, "value": _STR, "secretKey": _STR},
    }
    datastore = _obj(
        {
            "kind": {"enum": sorted(k8s.ENGINES)},
            "image": _STR,
            "port": _PORT,
            "podSecurityContext": {"type": "object"},
            "resources": _RESOURCES,
            "persistence": _obj({"size": _QTY, "storageClassName": _STR}),
            "zoneSpread": _SPREAD,
            "dataPath": _STR,
            "scratchPaths": _STRS,
            "probeCommand": _STRS,
            "args": _STRS,
            "env": {"type": "array", "items": env},
            "clientUrl": _STR,
        }
    )
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Values of the {model.platform.name} chart",
        **_obj(
            {
                "image": _obj({"repository": _STR, "tag": _STR, "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}),
                "namespace": _obj({"create": _BOOL, "podSecurity": _obj({"level": {"enum": ["privileged", "baseline", "restricted"]}, "version": _STR})}),
                "zones": {"type": "array", "items": _STR, "minItems": 1},
                "podSecurityContext": {"type": "object"},
                "containerSecurityContext": {"type": "object"},
                "probes": _obj({"startup": {"type": "object"}, "liveness": {"type": "object"}, "readiness": {"type": "object"}}),
                "podDisruptionBudget": _obj({"enabled": _BOOL, "maxUnavailable": {"type": ["integer", "string"]}}),
                "quota": _obj({"enabled": _BOOL, "hard": {"type": "object", "additionalProperties": _STR}}),
                "limitRange": _obj({"enabled": _BOOL, "default": _RES_PAIR, "defaultRequest": _RES_PAIR, "max": _RES_PAIR}),
                "secrets": _obj({"jwt": _obj({"name": _NAME, "key": _STR}), "datastores": _obj({"name": _NAME})}),
                "telemetry": _obj(
                    {
                        "collector": _obj({"namespace": _NAME, "service": _NAME, "podLabels": _LABELS, "otlpGrpcPort": _PORT, "otlpHttpPort": _PORT}),
                        "scraper": _obj({"namespace": _NAME, "podLabels": _LABELS}),
                    }
                ),
                "dns": _obj({"namespace": _NAME, "podLabels": _LABELS, "port": _PORT}),
                "kubernetesApi": _obj({"cidr": _STR, "ports": {"type": "array", "items": _PORT}}),
                "networkPolicy": _obj({"enabled": _BOOL}),
                "ingress": _obj(
                    {
                        "enabled": _BOOL, "className": _STR, "annotations": _LABELS, "host": _STR,
                        "service": _NAME, "tlsSecret": _NAME, "source": _SOURCE,
                    }
                ),
                "services": {"type": "object", "propertyNames": _NAME, "additionalProperties": service},
                "datastores": {"type": "object", "propertyNames": _NAME, "additionalProperties": datastore},
            }
        ),
    }


# --------------------------------------------------------------------------- templates
#
# Templates are Go templates. `[[NAME]]` tokens are filled from k8s.py's constants (and the chart
# name, which prefixes the helper names) when the chart is generated, so no fact is written twice.

HELPERS = """\
{{/*
The app.kubernetes.io labels of one workload.
Call with (dict "root" $ "name" <workload> "tier" <tier>).
*/}}
{{- define "[[CHART]].labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .tier }}
app.kubernetes.io/part-of: {{ .root.Chart.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end }}

{{/*
The labels that select one workload's pods (immutable once deployed).
Call with (dict "root" $ "name" <workload>).
*/}}
{{- define "[[CHART]].selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/*
Metadata of an object that belongs to one workload: its name (default: the workload's), the release
namespace (unless "cluster" is set) and the workload's labels.
Call with (dict "root" $ "name" <workload> "tier" <tier> ["object" <object name>] ["cluster" true]).
*/}}
{{- define "[[CHART]].metadata" -}}
name: {{ .object | default .name }}
{{- if not .cluster }}
namespace: {{ .root.Release.Namespace }}
{{- end }}
labels:
  {{- include "[[CHART]].labels" . | nindent 2 }}
{{- end }}

{{/* Metadata of a platform-wide object. Call with (dict "root" $ "object" <object name>). */}}
{{- define "[[CHART]].platformMetadata" -}}
name: {{ .object }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "[[CHART]].platformLabels" .root | nindent 2 }}
{{- end }}

{{/* Labels of platform-wide objects (namespace, quota, model ConfigMap, policies). */}}
{{- define "[[CHART]].platformLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The one parameterised service image; the tag defaults to the chart's appVersion. */}}
{{- define "[[CHART]].image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Name of the ConfigMap that carries the model. */}}
{{- define "[[CHART]].modelConfigMap" -}}
{{ .Release.Name }}-model
{{- end }}

{{/* The tier of a service or datastore. Call with (dict "root" $ "name" <workload>). */}}
{{- define "[[CHART]].tierOf" -}}
{{- if hasKey .root.Values.services .name -}}
{{ (get .root.Values.services .name).tier }}
{{- else -}}
data
{{- end -}}
{{- end }}

{{/* The port of a service or datastore. Call with (dict "root" $ "name" <workload>). */}}
{{- define "[[CHART]].portOf" -}}
{{- if hasKey .root.Values.services .name -}}
{{ (get .root.Values.services .name).port }}
{{- else if hasKey .root.Values.datastores .name -}}
{{ (get .root.Values.datastores .name).port }}
{{- else -}}
{{ fail (printf "%s is neither a service nor a datastore in values" .name) }}
{{- end -}}
{{- end }}

{{/*
Zone and node spread, preferred anti-affinity, and a node affinity pinning .Values.zones.
Call with (dict "root" $ "name" <workload> "spread" <zoneSpread>).
*/}}
{{- define "[[CHART]].placement" -}}
topologySpreadConstraints:
  - maxSkew: {{ .spread.maxSkew }}
    topologyKey: [[ZONE_KEY]]
    whenUnsatisfiable: {{ .spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "[[CHART]].selectorLabels" . | nindent 8 }}
  - maxSkew: 1
    topologyKey: [[HOST_KEY]]
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "[[CHART]].selectorLabels" . | nindent 8 }}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - key: [[ZONE_KEY]]
              operator: In
              values:
                {{- toYaml .root.Values.zones | nindent 16 }}
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: [[HOST_KEY]]
          labelSelector:
            matchLabels:
              {{- include "[[CHART]].selectorLabels" . | nindent 14 }}
{{- end }}

{{/*
A NetworkPolicy. Call with (dict "root" $ "name" <policy> "pod" <podSelector> "types" <list> "rules" <dict>).
*/}}
{{- define "[[CHART]].networkPolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "[[CHART]].platformMetadata" (dict "root" .root "object" .name) | nindent 2 }}
    netshop.io/policy: zero-trust
spec:
  podSelector:
    {{- toYaml .pod | nindent 4 }}
  policyTypes:
    {{- toYaml .types | nindent 4 }}
  {{- with .rules }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* An edge's pair of policies. Call with (dict "root" $ "source" <caller> "target" <callee>). */}}
{{- define "[[CHART]].edgePolicies" -}}
{{- $src := include "[[CHART]].selectorLabels" (dict "root" .root "name" .source) | fromYaml }}
{{- $dst := include "[[CHART]].selectorLabels" (dict "root" .root "name" .target) | fromYaml }}
{{- $ports := list (dict "protocol" "TCP" "port" (include "[[CHART]].portOf" (dict "root" .root "name" .target) | int)) }}
{{- $base := printf "allow-%s-to-%s" .source .target }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" .root "name" (printf "%s-egress" $base) "pod" (dict "matchLabels" $src) "types" (list "Egress") "rules" (dict "egress" (list (dict "to" (list (dict "podSelector" (dict "matchLabels" $dst))) "ports" $ports)))) }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" .root "name" (printf "%s-ingress" $base) "pod" (dict "matchLabels" $dst) "types" (list "Ingress") "rules" (dict "ingress" (list (dict "from" (list (dict "podSelector" (dict "matchLabels" $src))) "ports" $ports)))) }}
{{- end }}
"""

NAMESPACE = """\
{{- /* The helm CLI always has a release namespace; an SDK render without one gets no Namespace object. */}}
{{- if and .Values.namespace.create .Release.Namespace }}
apiVersion: v1
kind: Namespace
metadata:
  name: {{ .Release.Namespace }}
  labels:
    {{- include "[[CHART]].platformLabels" . | nindent 4 }}
    {{- range $mode := list "enforce" "audit" "warn" }}
    pod-security.kubernetes.io/{{ $mode }}: {{ $.Values.namespace.podSecurity.level }}
    pod-security.kubernetes.io/{{ $mode }}-version: {{ $.Values.namespace.podSecurity.version }}
    {{- end }}
{{- end }}
"""

QUOTA = """\
{{- if .Values.quota.enabled }}
apiVersion: v1
kind: ResourceQuota
metadata:
  {{- include "[[CHART]].platformMetadata" (dict "root" $ "object" (printf "%s-quota" .Release.Name)) | nindent 2 }}
spec:
  hard:
    {{- toYaml .Values.quota.hard | nindent 4 }}
{{- end }}
{{- if .Values.limitRange.enabled }}
---
apiVersion: v1
kind: LimitRange
metadata:
  {{- include "[[CHART]].platformMetadata" (dict "root" $ "object" (printf "%s-limits" .Release.Name)) | nindent 2 }}
spec:
  limits:
    - type: Container
      default:
        {{- toYaml .Values.limitRange.default | nindent 8 }}
      defaultRequest:
        {{- toYaml .Values.limitRange.defaultRequest | nindent 8 }}
      max:
        {{- toYaml .Values.limitRange.max | nindent 8 }}
{{- end }}
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "[[CHART]].platformMetadata" (dict "root" $ "object" (include "[[CHART]].modelConfigMap" .)) | nindent 2 }}
data:
  [[MODEL_FILE]]: |
    {{- .Files.Get "files/[[MODEL_FILE]]" | nindent 4 }}
"""

SERVICEACCOUNTS = """\
{{- range $name, $svc := .Values.services }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "[[CHART]].metadata" (dict "root" $ "name" $name "tier" $svc.tier) | nindent 2 }}
automountServiceAccountToken: {{ if or $svc.rbac.rules $svc.rbac.clusterRules }}true{{ else }}false{{ end }}
{{- end }}
{{- range $name, $ds := .Values.datastores }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "[[CHART]].metadata" (dict "root" $ "name" $name "tier" "data") | nindent 2 }}
automountServiceAccountToken: false
{{- end }}
"""

RBAC = """\
{{- range $name, $svc := .Values.services }}
{{- $role := dict "kind" "Role" "rules" $svc.rbac.rules "object" (printf "%s-reader" $name) }}
{{- $clusterRole := dict "kind" "ClusterRole" "rules" $svc.rbac.clusterRules "object" (printf "%s-%s-cluster-reader" $.Release.Name $name) "cluster" true }}
{{- range $scope := list $role $clusterRole }}
{{- if $scope.rules }}
{{- $meta := include "[[CHART]].metadata" (merge (dict "root" $ "name" $name "tier" $svc.tier) $scope) }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $scope.kind }}
metadata:
  {{- $meta | nindent 2 }}
rules:
  {{- toYaml $scope.rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {{ $scope.kind }}Binding
metadata:
  {{- $meta | nindent 2 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: {{ $scope.kind }}
  name: {{ $scope.object }}
subjects:
  - kind: ServiceAccount
    name: {{ $name }}
    namespace: {{ $.Release.Namespace }}
{{- end }}
{{- end }}
{{- end }}
"""

NETWORKPOLICIES = """\
{{- if .Values.networkPolicy.enabled }}
{{- $nsKey := "kubernetes.io/metadata.name" }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" $ "name" "default-deny" "pod" dict "types" (list "Ingress" "Egress") "rules" dict) }}
{{- $dns := .Values.dns }}
{{- $dnsPeer := dict "namespaceSelector" (dict "matchLabels" (dict $nsKey $dns.namespace)) "podSelector" (dict "matchLabels" $dns.podLabels) }}
{{- $dnsPorts := list (dict "protocol" "UDP" "port" $dns.port) (dict "protocol" "TCP" "port" $dns.port) }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" $ "name" "allow-dns-egress" "pod" dict "types" (list "Egress") "rules" (dict "egress" (list (dict "to" (list $dnsPeer) "ports" $dnsPorts)))) }}
{{- $ing := .Values.ingress }}
{{- $peers := list }}
{{- if $ing.source.namespace }}
{{- $peers = list (dict "namespaceSelector" (dict "matchLabels" (dict $nsKey $ing.source.namespace)) "podSelector" (dict "matchLabels" $ing.source.podLabels)) }}
{{- else }}
{{- range $ing.source.cidrs }}
{{- $peers = append $peers (dict "ipBlock" (dict "cidr" .)) }}
{{- end }}
{{- end }}
{{- $web := include "[[CHART]].selectorLabels" (dict "root" $ "name" $ing.service) | fromYaml }}
{{- $webPorts := list (dict "protocol" "TCP" "port" (include "[[CHART]].portOf" (dict "root" $ "name" $ing.service) | int)) }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" $ "name" (printf "allow-ingress-controller-to-%s-ingress" $ing.service) "pod" (dict "matchLabels" $web) "types" (list "Ingress") "rules" (dict "ingress" (list (dict "from" $peers "ports" $webPorts)))) }}
{{- range $name, $svc := .Values.services }}
{{- range $svc.calls }}
{{ include "[[CHART]].edgePolicies" (dict "root" $ "source" $name "target" .) }}
{{- end }}
{{- range $svc.datastores }}
{{ include "[[CHART]].edgePolicies" (dict "root" $ "source" $name "target" .) }}
{{- end }}
{{- end }}
{{- $tel := .Values.telemetry }}
{{- $tiers := list }}
{{- range .Values.services }}
{{- $tiers = append $tiers .tier }}
{{- end }}
{{- $workloads := dict "matchExpressions" (list (dict "key" "app.kubernetes.io/component" "operator" "In" "values" ($tiers | uniq | sortAlpha))) }}
{{- $collector := dict "namespaceSelector" (dict "matchLabels" (dict $nsKey $tel.collector.namespace)) "podSelector" (dict "matchLabels" $tel.collector.podLabels) }}
{{- $otlpPorts := list (dict "protocol" "TCP" "port" $tel.collector.otlpGrpcPort) (dict "protocol" "TCP" "port" $tel.collector.otlpHttpPort) }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" $ "name" "allow-otlp-to-collector-egress" "pod" $workloads "types" (list "Egress") "rules" (dict "egress" (list (dict "to" (list $collector) "ports" $otlpPorts)))) }}
{{- $scraper := dict "namespaceSelector" (dict "matchLabels" (dict $nsKey $tel.scraper.namespace)) "podSelector" (dict "matchLabels" $tel.scraper.podLabels) }}
{{- range $name, $svc := .Values.services }}
{{- $pod := include "[[CHART]].selectorLabels" (dict "root" $ "name" $name) | fromYaml }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" $ "name" (printf "allow-prometheus-to-%s-ingress" $name) "pod" (dict "matchLabels" $pod) "types" (list "Ingress") "rules" (dict "ingress" (list (dict "from" (list $scraper) "ports" (list (dict "protocol" "TCP" "port" $svc.port)))))) }}
{{- end }}
{{- $api := .Values.kubernetesApi }}
{{- $apiPorts := list }}
{{- range $api.ports }}
{{- $apiPorts = append $apiPorts (dict "protocol" "TCP" "port" .) }}
{{- end }}
{{- range $name, $svc := .Values.services }}
{{- if or $svc.rbac.rules $svc.rbac.clusterRules }}
{{- $pod := include "[[CHART]].selectorLabels" (dict "root" $ "name" $name) | fromYaml }}
---
{{ include "[[CHART]].networkPolicy" (dict "root" $ "name" (printf "allow-%s-to-kubernetes-api-egress" $name) "pod" (dict "matchLabels" $pod) "types" (list "Egress") "rules" (dict "egress" (list (dict "to" (list (dict "ipBlock" (dict "cidr" $api.cidr))) "ports" $apiPorts)))) }}
{{- end }}
{{- end }}
{{- end }}
"""

DATASTORES = """\
{{- range $name, $ds := .Values.datastores }}
{{- $workload := dict "root" $ "name" $name "tier" "data" }}
{{- $labels := include "[[CHART]].labels" $workload }}
{{- $selector := include "[[CHART]].selectorLabels" $workload }}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "[[CHART]].metadata" $workload | nindent 2 }}
spec:
  clusterIP: None
  type: ClusterIP
  selector:
    {{- $selector | nindent 4 }}
  ports:
    - name: tcp
      port: {{ $ds.port }}
      targetPort: {{ $ds.port }}
      protocol: TCP
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  {{- include "[[CHART]].metadata" $workload | nindent 2 }}
spec:
  serviceName: {{ $name }}
  replicas: 1
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
  template:
    metadata:
      labels:
        {{- $labels | nindent 8 }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: false
      securityContext:
        {{- toYaml $ds.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: 60
      {{- include "[[CHART]].placement" (dict "root" $ "name" $name "spread" $ds.zoneSpread) | nindent 6 }}
      containers:
        - name: {{ $name }}
          image: {{ $ds.image }}
          imagePullPolicy: IfNotPresent
          {{- with $ds.args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          env:
            {{- range $ds.env }}
            - name: {{ .name }}
              {{- if .secretKey }}
              valueFrom:
                secretKeyRef:
                  name: {{ $.Values.secrets.datastores.name }}
                  key: {{ .secretKey }}
              {{- else }}
              value: {{ .value | quote }}
              {{- end }}
            {{- end }}
          ports:
            - name: tcp
              containerPort: {{ $ds.port }}
              protocol: TCP
          startupProbe:
            exec:
              command:
                {{- toYaml $ds.probeCommand | nindent 16 }}
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 60
          livenessProbe:
            tcpSocket:
              port: tcp
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 6
          readinessProbe:
            exec:
              command:
                {{- toYaml $ds.probeCommand | nindent 16 }}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml $ds.resources | nindent 12 }}
          securityContext:
            {{- toYaml $.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: {{ $ds.dataPath }}
            {{- range $i, $path := $ds.scratchPaths }}
            - name: scratch-{{ $i }}
              mountPath: {{ $path }}
            {{- end }}
      volumes:
        {{- range $i, $path := $ds.scratchPaths }}
        - name: scratch-{{ $i }}
          emptyDir: {}
        {{- end }}
  volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
        labels:
          {{- $labels | nindent 10 }}
      spec:
        accessModes:
          - ReadWriteOnce
        {{- with $ds.persistence.storageClassName }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $ds.persistence.size }}
{{- end }}
"""

DEPLOYMENTS = """\
{{- $checksum := .Files.Get "files/[[MODEL_FILE]]" | sha256sum }}
{{- $tel := .Values.telemetry.collector }}
{{- range $name, $svc := .Values.services }}
{{- $workload := dict "root" $ "name" $name "tier" $svc.tier }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "[[CHART]].metadata" $workload | nindent 2 }}
spec:
  replicas: {{ $svc.replicas }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "[[CHART]].selectorLabels" (dict "root" $ "name" $name) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "[[CHART]].labels" $workload | nindent 8 }}
      annotations:
        netshop.io/model-checksum: {{ $checksum }}
    spec:
      serviceAccountName: {{ $name }}
      automountServiceAccountToken: {{ if or $svc.rbac.rules $svc.rbac.clusterRules }}true{{ else }}false{{ end }}
      securityContext:
        {{- toYaml $.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: 30
      {{- include "[[CHART]].placement" (dict "root" $ "name" $name "spread" $svc.zoneSpread) | nindent 6 }}
      containers:
        - name: {{ $name }}
          image: {{ include "[[CHART]].image" $ }}
          imagePullPolicy: {{ $.Values.image.pullPolicy }}
          args:
            - serve
          env:
            - name: NETSHOP_SERVICE
              value: {{ $name }}
            - name: NETSHOP_MODEL
              value: [[MODEL_MOUNT]]/[[MODEL_FILE]]
            - name: NETSHOP_RUNTIME
              value: kubernetes
            - name: NETSHOP_POD
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: NETSHOP_NODE
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
            - name: NETSHOP_ZONE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.labels['[[ZONE_KEY]]']
            - name: OTEL_SERVICE_NAME
              value: {{ $name }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: http://{{ $tel.service }}.{{ $tel.namespace }}.svc.cluster.local:{{ $tel.otlpHttpPort }}
            {{- range $store := $svc.datastores }}
            {{- $ds := get $.Values.datastores $store }}
            {{- $env := $store | upper | replace "-" "_" }}
            - name: NETSHOP_{{ $env }}_URL
              value: {{ $ds.clientUrl | replace "{host}" $store | replace "{port}" (toString $ds.port) }}
            - name: NETSHOP_{{ $env }}_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ $.Values.secrets.datastores.name }}
                  key: {{ $store }}-password
            {{- end }}
            {{- range $secret := $svc.secrets }}
            {{- $ref := get $.Values.secrets $secret }}
            - name: NETSHOP_{{ $secret | upper }}_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ $ref.name }}
                  key: {{ $ref.key }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ $svc.port }}
              protocol: TCP
          startupProbe:
            {{- toYaml $.Values.probes.startup | nindent 12 }}
          livenessProbe:
            {{- toYaml $.Values.probes.liveness | nindent 12 }}
          readinessProbe:
            {{- toYaml $.Values.probes.readiness | nindent 12 }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: model
              mountPath: [[MODEL_MOUNT]]
              readOnly: true
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: model
          configMap:
            name: {{ include "[[CHART]].modelConfigMap" $ }}
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
{{- end }}
"""

SERVICES = """\
{{- range $name, $svc := .Values.services }}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "[[CHART]].metadata" (dict "root" $ "name" $name "tier" $svc.tier) | nindent 2 }}
spec:
  type: ClusterIP
  selector:
    {{- include "[[CHART]].selectorLabels" (dict "root" $ "name" $name) | nindent 4 }}
  ports:
    - name: http
      port: {{ $svc.port }}
      targetPort: {{ $svc.port }}
      protocol: TCP
{{- end }}
"""

HPA = """\
{{- range $name, $svc := .Values.services }}
{{- with $svc.autoscaling }}
{{- if .enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "[[CHART]].metadata" (dict "root" $ "name" $name "tier" $svc.tier) | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicas: {{ .minReplicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .cpuUtilization }}
    {{- with .memoryUtilization }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: {{ .scaleUpWindowSeconds }}
      selectPolicy: Max
      policies:
        - type: Percent
          value: 100
          periodSeconds: 15
        - type: Pods
          value: 4
          periodSeconds: 15
    scaleDown:
      stabilizationWindowSeconds: {{ .scaleDownWindowSeconds }}
      selectPolicy: Min
      policies:
        - type: Percent
          value: 20
          periodSeconds: 60
{{- end }}
{{- end }}
{{- end }}
"""

PDB = """\
{{- if .Values.podDisruptionBudget.enabled }}
{{- range $name, $svc := .Values.services }}
{{- $floor := $svc.autoscaling.enabled | ternary $svc.autoscaling.minReplicas $svc.replicas }}
{{- if gt (int $floor) 1 }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "[[CHART]].metadata" (dict "root" $ "name" $name "tier" $svc.tier) | nindent 2 }}
spec:
  maxUnavailable: {{ $.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "[[CHART]].selectorLabels" (dict "root" $ "name" $name) | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}
"""

INGRESS = """\
{{- with .Values.ingress }}
{{- if .enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  {{- $tier := include "[[CHART]].tierOf" (dict "root" $ "name" .service) }}
  {{- include "[[CHART]].metadata" (dict "root" $ "name" .service "tier" $tier "object" $.Release.Name) | nindent 2 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  ingressClassName: {{ .className }}
  tls:
    - hosts:
        - {{ .host }}
      secretName: {{ .tlsSecret }}
  rules:
    - host: {{ .host }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ .service }}
                port:
                  name: http
{{- end }}
{{- end }}
"""

NOTES = """\
{{ .Chart.Name }} {{ .Chart.AppVersion }} is installed as release {{ .Release.Name }} in namespace {{ .Release.Namespace }}.

{{- if .Values.ingress.enabled }}

The shop answers at https://{{ .Values.ingress.host }}/ (IngressClass {{ .Values.ingress.className }}, TLS Secret {{ .Values.ingress.tlsSecret }}).
{{- end }}

Workloads spread across the zones {{ join ", " .Values.zones }} (node label [[ZONE_KEY]]):
{{- range $name, $svc := .Values.services }}
  {{ $name }} ({{ $svc.tier }}): {{ $svc.replicas }} replica(s){{ if $svc.autoscaling.enabled }}, autoscaled {{ $svc.autoscaling.minReplicas }}-{{ $svc.autoscaling.maxReplicas }}{{ end }}
{{- end }}
{{- range $name, $ds := .Values.datastores }}
  {{ $name }} ({{ $ds.kind }}): 1 replica, {{ $ds.persistence.size }} volume
{{- end }}

Before the pods can start, create the Secrets the chart only references:
  kubectl -n {{ .Release.Namespace }} create secret generic {{ .Values.secrets.jwt.name }} --from-literal={{ .Values.secrets.jwt.key }}=<signing key>
  kubectl -n {{ .Release.Namespace }} create secret generic {{ .Values.secrets.datastores.name }}
  {{- range $name, $ds := .Values.datastores }} --from-literal={{ $name }}-password=<password>{{ end }}

Watch the rollout:
  kubectl -n {{ .Release.Namespace }} get pods -L [[ZONE_KEY]] -w
"""

HELMIGNORE = """\
# Patterns Helm leaves out of the packaged chart.
.DS_Store
.git/
.gitignore
*.swp
*.bak
*.tmp
*.orig
*~
"""

TEMPLATES = {
    "_helpers.tpl": HELPERS,
    "namespace.yaml": NAMESPACE,
    "quota.yaml": QUOTA,
    "configmap.yaml": CONFIGMAP,
    "serviceaccounts.yaml": SERVICEACCOUNTS,
    "rbac.yaml": RBAC,
    "networkpolicies.yaml": NETWORKPOLICIES,
    "datastores.yaml": DATASTORES,
    "deployments.yaml": DEPLOYMENTS,
    "services.yaml": SERVICES,
    "hpa.yaml": HPA,
    "pdb.yaml": PDB,
    "ingress.yaml": INGRESS,
    "NOTES.txt": NOTES,
}


def fill(text: str, model: NetShopModel) -> str:
    """Replace `[[TOKEN]]`s with the chart name and k8s.py's constants; an unknown token is a bug."""
    tokens = {
        "CHART": model.platform.name,
        "MODEL_FILE": k8s.MODEL_FILE,
        "MODEL_MOUNT": k8s.MODEL_MOUNT,
        "ZONE_KEY": k8s.ZONE_KEY,
        "HOST_KEY": k8s.HOST_KEY,
    }
    return re.sub(r"\[\[([A-Z_]+)\]\]", lambda m: tokens[m.group(1)], text)


def template_header() -> str:
    """The DO NOT EDIT banner as a Go-template comment (it renders to nothing)."""
    return "{{- /* " + header(__name__, comment="").strip() + " */ -}}\n"


# --------------------------------------------------------------------------- Chart.yaml and README


def chart_yaml(model: NetShopModel) -> dict:
    p = model.platform
    return {
        "apiVersion": "v2",
        "name": p.name,
        "description": f"{p.title}: {p.description}",
        "type": "application",
        "version": p.version,
        "appVersion": p.version,
        "kubeVersion": KUBE_VERSION,
        "keywords": sorted({"microservices", "zero-trust", "multi-zone", *(c.id for c in model.capabilities)}),
    }


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def readme(model: NetShopModel, vals: dict) -> str:
    p = model.platform
    name, ns = p.name, p.namespace
    svc_rows = [
        [
            f"`{n}`", v["tier"], str(v["port"]), str(v["replicas"]),
            f'{v["autoscaling"]["minReplicas"]}–{v["autoscaling"]["maxReplicas"]} @ {v["autoscaling"]["cpuUtilization"]}% CPU'
            + (f' / {v["autoscaling"]["memoryUtilization"]}% memory' if v["autoscaling"]["memoryUtilization"] else ""),
            f'{v["resources"]["requests"]["cpu"]} / {v["resources"]["requests"]["memory"]}',
            f'{v["resources"]["limits"]["cpu"]} / {v["resources"]["limits"]["memory"]}',
            ", ".join(f"`{c}`" for c in v["calls"] + v["datastores"]) or "—",
        ]
        for n, v in vals["services"].items()
    ]
    ds_rows = [
        [f"`{n}`", v["kind"], str(v["port"]), f'`{v["image"]}`', v["persistence"]["size"],
         f'{v["resources"]["limits"]["cpu"]} / {v["resources"]["limits"]["memory"]}']
        for n, v in vals["datastores"].items()
    ]
    first = model.services[0].name
    knobs = [
        ["`image.repository`, `image.tag`, `image.pullPolicy`", "The one service image; the tag defaults to the chart's appVersion."],
        ["`namespace.create`, `namespace.podSecurity`", "Whether the chart owns the Namespace, and its Pod Security Admission level."],
        ["`zones`", "Values of the `topology.kubernetes.io/zone` node label every workload is pinned to and spread across. Set your cloud's zone names here."],
        [f"`services.<name>.replicas`, `services.<name>.autoscaling.*`", "Replicas at rest, and the HPA's floor, ceiling, utilisation targets and stabilisation windows."],
        ["`services.<name>.resources`, `datastores.<name>.resources`", "Container requests and limits."],
        ["`services.<name>.zoneSpread`", "`maxSkew` and `whenUnsatisfiable` of the zone spread."],
        ["`datastores.<name>.persistence`", "Volume size and `storageClassName` (empty: the cluster's default class)."],
        ["`datastores.<name>.image`", "The engine image, pinned."],
        ["`ingress.*`", "IngressClass, annotations, host, TLS Secret, and `ingress.source`: the controller pods (namespace + podLabels) or the load balancer's CIDRs the web service accepts traffic from."],
        ["`secrets.*`", "Names of the Secrets the chart references but never creates."],
        ["`telemetry.*`, `dns.*`, `kubernetesApi.*`", "Where the OpenTelemetry Collector, Prometheus, cluster DNS and the API server are; the NetworkPolicies allow exactly these."],
        ["`quota.*`, `limitRange.*`, `podDisruptionBudget.*`", "Namespace ResourceQuota (sized for every workload at its ceiling plus 25 %), LimitRange defaults, and the PDB's `maxUnavailable`."],
        ["`networkPolicy.enabled`", "The zero-trust NetworkPolicies: default deny, DNS, and one egress + one ingress allow per edge."],
    ]
    secret_keys = " ".join(f"--from-literal={d.name}-password=<password>" for d in model.datastores)
    return "\n".join(
        [
            header(__name__, comment="<!--").rstrip("\n") + " -->",
            f"# The `{name}` Helm chart",
            "",
            f"{p.description}",
            "",
            f"This chart deploys {len(model.services)} services and {len(model.datastores)} datastores into the namespace "
            f"`{ns}`, spread across the zones {', '.join(f'`{z.name}`' for z in p.zones)}. It is generated from "
            "`model/netshop.yaml`: the values below are the model's, and `files/model.json` is the model the services "
            "read at run time. Rendered with the default values it produces exactly `generated/k8s/netshop.yaml`.",
            "",
            "## Install",
            "",
            "The chart references two Secrets it never creates. Create them first:",
            "",
            "```sh",
            f"kubectl create namespace {ns}",
            f"kubectl -n {ns} create secret generic {p.jwt_secret} --from-literal=secret=\"$(openssl rand -hex 32)\"",
            f"kubectl -n {ns} create secret generic {p.datastore_secret} {secret_keys}",
            "```",
            "",
            "The chart also owns the Namespace (to set its Pod Security labels), so let Helm adopt the one you created "
            "(Helm 3.17 or later):",
            "",
            "```sh",
            f"helm install {name} generated/helm/{name} --namespace {ns} --take-ownership",
            f"helm upgrade {name} generated/helm/{name} --namespace {ns} -f my-values.yaml",
            "```",
            "",
            "If something else manages the namespace, install with `--set namespace.create=false` and label it "
            "`pod-security.kubernetes.io/enforce=restricted` yourself. Use the release name "
            f"`{name}` and the namespace `{ns}`: the NetworkPolicies and the model select pods by "
            "`app.kubernetes.io/instance`, which is the release name. `helm uninstall` deletes the Namespace and with it "
            "the datastores' volumes.",
            "",
            "For a cloud's zone names, storage class, ingress class and replica floors without Helm, use the kustomize "
            "overlays in `generated/kustomize/overlays/<cloud>`.",
            "",
            "## What you can tune",
            "",
            _md_table(["Values", "Meaning"], knobs),
            "",
            "Structural facts mirror the model and are there for the templates to loop over: a service's `tier`, "
            "`port`, `calls`, `datastores`, `secrets` and `rbac`, and a datastore's engine settings. The running "
            "services read ports and peers from `files/model.json`, so change those in `model/netshop.yaml` and run "
            "`netshop generate`, not here.",
            "",
            "For example, to pin the zones of a cloud and give one service more room:",
            "",
            "```yaml",
            "zones: [europe-west1-b, europe-west1-c, europe-west1-d]",
            "services:",
            f"  {first}:",
            "    replicas: 6",
            "    autoscaling: {minReplicas: 6, maxReplicas: 20}",
            "```",
            "",
            "`values.schema.json` rejects unknown keys and wrong types before anything renders.",
            "",
            "## Services",
            "",
            _md_table(["Service", "Tier", "Port", "Replicas", "Autoscaling", "Requests (CPU / memory)", "Limits", "Talks to"], svc_rows),
            "",
            "## Datastores",
            "",
            _md_table(["Datastore", "Engine", "Port", "Image", "Volume", "Limits"], ds_rows),
            "",
            "## What the chart deploys",
            "",
            "- the Namespace with restricted Pod Security Admission, a ResourceQuota and a LimitRange;",
            "- the model as a ConfigMap (the pods carry its checksum, so a model change rolls them);",
            "- a ServiceAccount per workload (API token mounted only where RBAC grants something), and least-privilege Roles;",
            "- NetworkPolicies: default deny, DNS to kube-dns only, and exactly the model's edges;",
            "- a StatefulSet and headless Service per datastore;",
            "- a Deployment, Service and autoscaling/v2 HPA per service, and a PodDisruptionBudget where more than one replica runs;",
            f"- the Ingress for `{p.ingress.host}` to `{p.ingress.service}`.",
            "",
        ]
    )


# --------------------------------------------------------------------------- the family


def generate(model: NetShopModel) -> Iterator[Artifact]:
    root = chart_dir(model)
    vals = values(model)
    yield Artifact(f"{root}/Chart.yaml", yaml_file(chart_yaml(model), __name__))
    yield Artifact(f"{root}/.helmignore", header(__name__) + HELMIGNORE)
    yield Artifact(f"{root}/README.md", readme(model, vals))
    yield Artifact(f"{root}/values.yaml", values_yaml(vals))
    yield Artifact(f"{root}/values.schema.json", json_file(values_schema(model), __name__))
    # The model exactly as the services read it (no banner: its bytes are the ConfigMap data and the pods' checksum).
    yield Artifact(f"{root}/files/{k8s.MODEL_FILE}", k8s.model_json(model))
    for name, text in TEMPLATES.items():
        yield Artifact(f"{root}/templates/{name}", template_header() + fill(text, model))
