"""The highly available data tier: each model datastore as a replicated, zone-spread cluster.

- PostgreSQL: a CloudNativePG `Cluster` (1 primary + 2 replicas, synchronous quorum replication),
  one database and owner role per client service, a PgBouncer `Pooler` that keeps the datastore's
  DNS name, WAL archiving and base backups to object storage (`ObjectStore`, `ScheduledBackup`)
  for point-in-time recovery, and a recovery-cluster example.
- Redis: a StatefulSet of Redis replicas with a Sentinel beside each, reached through `<ds>-sentinel`.
- RabbitMQ: a 3-node `RabbitmqCluster` that keeps the datastore's DNS name, with the model's
  exchanges, the subscriptions as quorum queues with delivery limits and dead-letter queues,
  declared through the messaging-topology operator.
- NetworkPolicies for the traffic inside each cluster (replication, operators, backups); client
  traffic keeps the zero-trust policies of the core bundle, which select pods by datastore name.

The enterprise deployment replaces the single-replica datastores of the core bundle with these.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from model.schema import Datastore, NetShopModel
from model.messaging import DEAD_LETTER_EXCHANGE_TYPE, DEAD_LETTER_QUEUE_ARGUMENTS, dead_letter_routing_key, queue_arguments

from .addons import ADDON_BY_NAME
from .base import Artifact, header, k8s, to_yaml, yaml_stream
from .k8s import (
    CONTAINER_SECURITY,
    ENGINES,
    HOST_KEY,
    ZONE_KEY,
    datastore_env,
    labels,
    pod_security_context,
    resources,
    selector,
)
from .k8s import statefulset as core_statefulset

ROOTS = ("data-ha/",)

REPLICAS = 3  # one primary (or master) and two replicas: a quorum survives the loss of one zone
CNPG = "postgresql.cnpg.io/v1"
BARMAN = "barmancloud.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
CNPG_IMAGE = "ghcr.io/cloudnative-pg/postgresql"  # CloudNativePG operand images, tagged by PostgreSQL version
RABBIT = "rabbitmq.com/v1beta1"
NETPOL = "networking.k8s.io/v1"
NS_KEY = "kubernetes.io/metadata.name"
BACKUP_SCHEDULE = "0 0 2 * * *"  # daily base backup at 02:00 (CloudNativePG cron has a seconds field)
BACKUP_RETENTION = "30d"
SENTINEL_PORT = 26379
# Ports the engines use between their own pods, beyond the client port.
RABBIT_CLUSTER_PORTS = (4369, 25672)  # epmd and inter-node distribution
RABBIT_OPERATOR_PORT = 15672  # management API the topology operator declares objects through
CNPG_STATUS_PORT = 8000  # instance manager, polled by the operator


def _env(model: NetShopModel, ds: Datastore, name: str) -> str:
    """A value the core bundle gives the engine (user, database, vhost): one source for both bundles."""
    return next(e["value"] for e in datastore_env(model, ds) if e["name"] == name)


def _zone_names(model: NetShopModel) -> list[str]:
    return [z.name for z in model.platform.zones]


def _spread(match: dict[str, str]) -> list[dict]:
    sel = {"matchLabels": dict(match)}
    return [
        {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": sel},
        {"maxSkew": 1, "topologyKey": HOST_KEY, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": sel},
    ]


def _zone_affinity(model: NetShopModel) -> dict:
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE_KEY, "operator": "In", "values": _zone_names(model)}]}]
        }
    }


def ident(name: str) -> str:
    """A service name as a PostgreSQL identifier (role and database names)."""
    return name.replace("-", "_")


def cluster_name(ds: Datastore) -> str:
    return f"{ds.name}-ha"


def role_secret(ds: Datastore, service: str) -> str:
    """The basic-auth Secret holding a client service's role password (synced by the security bundle)."""
    return f"{ds.name}-{service}-credentials"


def app_secret(ds: Datastore) -> str:
    """The basic-auth Secret of the engine's own application user (synced by the security bundle)."""
    return f"{ds.name}-app-credentials"


def backup_store_secret(model: NetShopModel) -> str:
    return f"{model.platform.name}-backup-store"


def postgres_version(ds: Datastore) -> str:
    """`postgres:16.6-alpine` -> `16.6`: the HA cluster runs the same PostgreSQL release as the core bundle."""
    return ds.image.rsplit(":", 1)[1].split("-", 1)[0]


# --------------------------------------------------------------------------- PostgreSQL


def _barman_plugin(ds: Datastore, server: str | None = None, archiver: bool = True) -> dict:
    params = {"barmanObjectName": f"{ds.name}-backups"}
    if server:
        params["serverName"] = server
    plugin: dict = {"name": BARMAN_PLUGIN}
    if archiver:
        plugin["isWALArchiver"] = True
    return {**plugin, "parameters": params}


def _cluster_spec(model: NetShopModel, ds: Datastore, name: str) -> dict:
    """What a primary cluster and its recovery twin share: topology, storage, resources and security."""
    return {
        "description": ds.role,
        "instances": REPLICAS,
        "imageName": f"{CNPG_IMAGE}:{postgres_version(ds)}",
        "primaryUpdateStrategy": "unsupervised",
        "enablePDB": True,
        "postgresql": {
            "synchronous": {"method": "any", "number": math.ceil((REPLICAS - 1) / 2), "dataDurability": "required"},
        },
        "storage": {"size": ds.storage},
        "walStorage": {"size": ds.storage},
        "resources": resources(ds.resources),
        "inheritedMetadata": {"labels": labels(model, name, "data")},
        "affinity": {
            "enablePodAntiAffinity": True,
            "topologyKey": ZONE_KEY,
            "podAntiAffinityType": "preferred",
            "nodeAffinity": _zone_affinity(model),
        },
        "topologySpreadConstraints": _spread({"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}),
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def postgres_cluster(model: NetShopModel, ds: Datastore) -> dict:
    name = cluster_name(ds)
    spec = _cluster_spec(model, ds, name)
    spec["bootstrap"] = {
        "initdb": {
            "database": _env(model, ds, "POSTGRES_DB"),
            "owner": _env(model, ds, "POSTGRES_USER"),
            "secret": {"name": app_secret(ds)},
        }
    }
    spec["managed"] = {
        "roles": [
            {
                "name": ident(svc),
                "ensure": "present",
                "comment": f"Owner of the {svc} service's database",
                "login": True,
                "inherit": True,
                "passwordSecret": {"name": role_secret(ds, svc)},
            }
            for svc in model.clients_of(ds.name)
        ]
    }
    spec["plugins"] = [_barman_plugin(ds)]
    return k8s(CNPG, "Cluster", name, model.platform.namespace, labels=labels(model, name, "data"), spec=spec)


def postgres_databases(model: NetShopModel, ds: Datastore) -> list[dict]:
    """One database per client service, owned by the service's role."""
    name = cluster_name(ds)
    return [
        k8s(
            CNPG, "Database", f"{name}-{svc}", model.platform.namespace, labels=labels(model, name, "data"),
            spec={
                "cluster": {"name": name},
                "name": ident(svc),
                "owner": ident(svc),
                "ensure": "present",
                "databaseReclaimPolicy": "retain",
            },
        )
        for svc in model.clients_of(ds.name)
    ]


def pooler(model: NetShopModel, ds: Datastore) -> dict:
    """PgBouncer in front of the primary. It is named after the datastore, so clients keep their URL."""
    pod_labels = labels(model, ds.name, "data")
    return k8s(
        CNPG, "Pooler", ds.name, model.platform.namespace, labels=pod_labels,
        spec={
            "cluster": {"name": cluster_name(ds)},
            "instances": max(2, len(model.platform.zones)),
            "type": "rw",
            "pgbouncer": {
                "poolMode": "transaction",
                "parameters": {"max_client_conn": "1000", "default_pool_size": "20", "max_prepared_statements": "200"},
            },
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "containers": [
                        {
                            "name": "pgbouncer",
                            "resources": resources(model.platform.default_resources),
                            "securityContext": CONTAINER_SECURITY,
                        }
                    ],
                    "topologySpreadConstraints": _spread({"cnpg.io/poolerName": ds.name}),
                    "affinity": {"nodeAffinity": _zone_affinity(model)},
                },
            },
        },
    )


def object_store(model: NetShopModel, ds: Datastore) -> dict:
    """Where WAL segments and base backups go: S3-compatible object storage (every cloud offers one)."""
    secret = backup_store_secret(model)
    return k8s(
        BARMAN, "ObjectStore", f"{ds.name}-backups", model.platform.namespace, labels=labels(model, cluster_name(ds), "data"),
        spec={
            "retentionPolicy": BACKUP_RETENTION,
            "configuration": {
                "destinationPath": f"s3://{model.platform.name}-backups/{ds.name}",
                "s3Credentials": {
                    "accessKeyId": {"name": secret, "key": "ACCESS_KEY_ID"},
                    "secretAccessKey": {"name": secret, "key": "ACCESS_SECRET_KEY"},
                },
                "wal": {"compression": "gzip", "maxParallel": 2},
                "data": {"compression": "gzip", "jobs": 2},
            },
        },
    )


def scheduled_backup(model: NetShopModel, ds: Datastore) -> dict:
    name = cluster_name(ds)
    return k8s(
        CNPG, "ScheduledBackup", f"{name}-daily", model.platform.namespace, labels=labels(model, name, "data"),
        spec={
            "schedule": BACKUP_SCHEDULE,
            "immediate": True,
            "backupOwnerReference": "self",
            "cluster": {"name": name},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_PLUGIN},
        },
    )


def recovery_cluster(model: NetShopModel, ds: Datastore) -> dict:
    """A new cluster restored from the backups and WAL archive of the live one (point-in-time recovery)."""
    source = cluster_name(ds)
    name = f"{ds.name}-restore"
    spec = _cluster_spec(model, ds, name)
    spec["bootstrap"] = {"recovery": {"source": source}}
    spec["externalClusters"] = [{"name": source, "plugin": _barman_plugin(ds, server=source, archiver=False)}]
    # The restored cluster archives under its own server name, so it never overwrites the source's archive.
    spec["plugins"] = [_barman_plugin(ds, server=name)]
    return k8s(CNPG, "Cluster", name, model.platform.namespace, labels=labels(model, name, "data"), spec=spec)


def postgres_objects(model: NetShopModel, ds: Datastore) -> list[dict]:
    return [
        object_store(model, ds),
        postgres_cluster(model, ds),
        *postgres_databases(model, ds),
        pooler(model, ds),
        scheduled_backup(model, ds),
    ]


# --------------------------------------------------------------------------- Redis with Sentinel


SENTINEL_SCRIPT = """\
set -eu
ordinal="${POD_NAME##*-}"
master="${STATEFULSET}-0.${HEADLESS}.${NAMESPACE}.svc.cluster.local"
self="${POD_NAME}.${HEADLESS}.${NAMESPACE}.svc.cluster.local"
{
  echo "port ${REDIS_PORT}"
  echo "dir ${DATA_DIR}"
  echo "appendonly yes"
  echo "requirepass ${REDIS_PASSWORD}"
  echo "masterauth ${REDIS_PASSWORD}"
  echo "replica-announce-ip ${self}"
  if [ "$ordinal" != "0" ]; then echo "replicaof ${master} ${REDIS_PORT}"; fi
} > /conf/redis.conf
{
  echo "port ${SENTINEL_PORT}"
  echo "sentinel resolve-hostnames yes"
  echo "sentinel announce-hostnames yes"
  echo "sentinel announce-ip ${self}"
  echo "sentinel monitor ${MASTER_NAME} ${master} ${REDIS_PORT} ${QUORUM}"
  echo "sentinel auth-pass ${MASTER_NAME} ${REDIS_PASSWORD}"
  echo "sentinel down-after-milliseconds ${MASTER_NAME} 5000"
  echo "sentinel failover-timeout ${MASTER_NAME} 60000"
  echo "sentinel parallel-syncs ${MASTER_NAME} 1"
} > /conf/sentinel.conf
"""


def redis_objects(model: NetShopModel, ds: Datastore) -> list[dict]:
    """Redis replicas with a Sentinel beside each; clients ask `<ds>-sentinel` for the current master."""
    ns = model.platform.namespace
    name = cluster_name(ds)
    headless = f"{name}-headless"
    lab = labels(model, ds.name, "data")
    data_dir = ENGINES["redis"]["data"]
    secret = {"secretKeyRef": {"name": model.platform.datastore_secret, "key": f"{ds.name}-password"}}
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "STATEFULSET", "value": name},
        {"name": "HEADLESS", "value": headless},
        {"name": "MASTER_NAME", "value": ds.name},
        {"name": "QUORUM", "value": str(REPLICAS // 2 + 1)},
        {"name": "REDIS_PORT", "value": str(ds.port)},
        {"name": "SENTINEL_PORT", "value": str(SENTINEL_PORT)},
        {"name": "DATA_DIR", "value": data_dir},
        {"name": "REDIS_PASSWORD", "valueFrom": secret},
    ]
    auth_probe = lambda port: [  # noqa: E731
        "sh", "-c", f"redis-cli -p {port} -a \"$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG",
    ]
    common = {
        "image": ds.image,
        "imagePullPolicy": "IfNotPresent",
        "securityContext": CONTAINER_SECURITY,
    }
    redis = {
        "name": "redis",
        **common,
        "args": ["redis-server", "/conf/redis.conf"],
        "env": [{"name": "REDIS_PASSWORD", "valueFrom": secret}],
        "ports": [{"name": "tcp", "containerPort": ds.port, "protocol": "TCP"}],
        "livenessProbe": {"tcpSocket": {"port": "tcp"}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 6},
        "readinessProbe": {"exec": {"command": auth_probe(ds.port)}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "resources": resources(ds.resources),
        "volumeMounts": [{"name": "data", "mountPath": data_dir}, {"name": "conf", "mountPath": "/conf"}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    sentinel = {
        "name": "sentinel",
        **common,
        "args": ["redis-server", "/conf/sentinel.conf", "--sentinel"],
        "env": [{"name": "REDIS_PASSWORD", "valueFrom": secret}],
        "ports": [{"name": "sentinel", "containerPort": SENTINEL_PORT, "protocol": "TCP"}],
        "livenessProbe": {"tcpSocket": {"port": "sentinel"}, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 6},
        "readinessProbe": {"exec": {"command": ["sh", "-c", f"redis-cli -p {SENTINEL_PORT} ping | grep -q PONG"]}, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "resources": resources(model.platform.default_resources),
        "volumeMounts": [{"name": "conf", "mountPath": "/conf"}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    init = {
        "name": "config",
        **common,
        "command": ["sh", "-c", SENTINEL_SCRIPT],
        "env": env,
        "resources": resources(model.platform.default_resources),
        "volumeMounts": [{"name": "conf", "mountPath": "/conf"}],
    }
    # The core bundle's single-replica StatefulSet is the base (identity, security context, volume
    # claim, zone spread); the HA version adds replicas, the Sentinel beside Redis and the config step.
    statefulset = core_statefulset(model, ds)
    statefulset["metadata"]["name"] = name
    spec = statefulset["spec"]
    spec |= {"serviceName": headless, "replicas": REPLICAS, "podManagementPolicy": "OrderedReady"}
    pod = spec["template"]["spec"]  # keeps the core zone spread and zone affinity (k8s.placement)
    pod["initContainers"] = [init]
    pod["containers"] = [redis, sentinel]
    pod["volumes"] = [{"name": "conf", "emptyDir": {"sizeLimit": "1Mi"}}, {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]
    ports = [
        {"name": "tcp", "port": ds.port, "targetPort": ds.port, "protocol": "TCP"},
        {"name": "sentinel", "port": SENTINEL_PORT, "targetPort": SENTINEL_PORT, "protocol": "TCP"},
    ]
    return [
        k8s("v1", "Service", headless, ns, labels=lab,
            spec={"clusterIP": "None", "type": "ClusterIP", "publishNotReadyAddresses": True, "selector": selector(model, ds.name), "ports": ports}),
        k8s("v1", "Service", f"{ds.name}-sentinel", ns, labels=lab,
            spec={"type": "ClusterIP", "selector": selector(model, ds.name), "ports": [ports[1]]}),
        statefulset,
        k8s("policy/v1", "PodDisruptionBudget", name, ns, labels=lab,
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector(model, ds.name)}}),
    ]


# --------------------------------------------------------------------------- RabbitMQ


def rabbitmq_objects(model: NetShopModel, ds: Datastore) -> list[dict]:
    """A 3-node cluster named after the datastore, and its topology: vhost, user, exchanges, quorum queues."""
    ns = model.platform.namespace
    lab = labels(model, ds.name, "data")
    ref = {"name": ds.name}
    vhost = _env(model, ds, "RABBITMQ_DEFAULT_VHOST")
    user = _env(model, ds, "RABBITMQ_DEFAULT_USER")
    pod_sel = {"app.kubernetes.io/name": ds.name}  # the label the cluster operator puts on its pods
    cluster = k8s(
        RABBIT, "RabbitmqCluster", ds.name, ns, labels=lab,
        spec={
            "replicas": REPLICAS,
            "image": ds.image,
            "resources": resources(ds.resources),
            "persistence": {"storage": ds.storage},
            "rabbitmq": {
                "additionalConfig": "cluster_partition_handling = pause_minority\ndefault_queue_type = quorum\n",
            },
            "affinity": {
                "nodeAffinity": _zone_affinity(model),
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": {"topologyKey": HOST_KEY, "labelSelector": {"matchLabels": pod_sel}}}
                    ]
                },
            },
            "override": {
                "statefulSet": {
                    "spec": {
                        "template": {
                            "metadata": {"labels": lab},
                            "spec": {
                                "securityContext": pod_security_context(ds.run_as_user),
                                "topologySpreadConstraints": _spread(pod_sel),
                                "containers": [{"name": "rabbitmq", "securityContext": CONTAINER_SECURITY}],
                            },
                        }
                    }
                }
            },
        },
    )
    objs = [
        cluster,
        k8s(RABBIT, "Vhost", f"{ds.name}-{vhost}", ns, labels=lab,
            spec={"name": vhost, "defaultQueueType": "quorum", "rabbitmqClusterReference": ref}),
        k8s(RABBIT, "User", f"{ds.name}-{user}", ns, labels=lab,
            spec={"tags": [], "importCredentialsSecret": {"name": app_secret(ds)}, "rabbitmqClusterReference": ref}),
        k8s(RABBIT, "Permission", f"{ds.name}-{user}-{vhost}", ns, labels=lab,
            spec={"vhost": vhost, "userReference": {"name": f"{ds.name}-{user}"},
                  "permissions": {"configure": ".*", "write": ".*", "read": ".*"}, "rabbitmqClusterReference": ref}),
    ]
    exchanges = sorted((x for x in model.exchanges if x.broker == ds.name), key=lambda x: x.name)
    for x in exchanges:
        for name, kind in ((x.name, x.type), (x.dead_letter_exchange, DEAD_LETTER_EXCHANGE_TYPE)):
            objs.append(k8s(RABBIT, "Exchange", f"{ds.name}-{name}".replace(".", "-"), ns, labels=lab,
                            spec={"name": name, "vhost": vhost, "type": kind, "durable": True, "autoDelete": False,
                                  "rabbitmqClusterReference": ref}))
    by_exchange = {x.name: x for x in exchanges}
    subs = sorted(
        ((e, s) for e in model.events if e.exchange in by_exchange for s in e.subscriptions), key=lambda es: es[1].queue
    )
    for event, sub in subs:
        x = by_exchange[event.exchange]
        for queue, args, source, key in (
            (sub.queue, queue_arguments(x, sub), x.name, sub.binding_key),
            (sub.dead_letter_queue, dict(DEAD_LETTER_QUEUE_ARGUMENTS), x.dead_letter_exchange, dead_letter_routing_key(sub)),
        ):
            obj_name = f"{ds.name}-{queue}".replace(".", "-")
            objs.append(k8s(RABBIT, "Queue", obj_name, ns, labels=lab,
                            spec={"name": queue, "vhost": vhost, "type": "quorum", "durable": True, "autoDelete": False,
                                  "arguments": args, "rabbitmqClusterReference": ref}))
            objs.append(k8s(RABBIT, "Binding", obj_name, ns, labels=lab,
                            spec={"vhost": vhost, "source": source, "destination": queue, "destinationType": "queue",
                                  "routingKey": key, "rabbitmqClusterReference": ref}))
    return objs


# --------------------------------------------------------------------------- network policies


def _netpol(model: NetShopModel, name: str, pods: dict, types: list[str], **rules) -> dict:
    return k8s(
        NETPOL, "NetworkPolicy", name, model.platform.namespace,
        labels={**labels(model, name, "data"), "netshop.io/policy": "data-ha"},
        spec={"podSelector": {"matchLabels": pods}, "policyTypes": types, **rules},
    )


def _ports(*ports: int) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _operator_peer(addon: str) -> dict:
    a = ADDON_BY_NAME[addon]
    return {"namespaceSelector": {"matchLabels": {NS_KEY: a.namespace}}, "podSelector": {"matchLabels": a.pod_labels}}


def _api_server(model: NetShopModel) -> list[dict]:
    api = model.platform.kubernetes_api
    return [{"to": [{"ipBlock": {"cidr": api.cidr}}], "ports": _ports(*api.ports)}]


def _peer_mesh(model: NetShopModel, name: str, pods: dict, ports: list[int]) -> list[dict]:
    """Pods of one cluster talk to each other on the engine's cluster ports, in both directions."""
    peer = [{"podSelector": {"matchLabels": pods}}]
    return [
        _netpol(model, f"allow-{name}-peers-ingress", pods, ["Ingress"], ingress=[{"from": peer, "ports": _ports(*ports)}]),
        _netpol(model, f"allow-{name}-peers-egress", pods, ["Egress"], egress=[{"to": peer, "ports": _ports(*ports)}]),
    ]


def network_policies(model: NetShopModel) -> list[dict]:
    out: list[dict] = []
    for ds in model.datastores:
        if ds.kind == "postgres":
            name = cluster_name(ds)
            instances = {"cnpg.io/cluster": name}
            poolers = {"cnpg.io/poolerName": ds.name}
            out += _peer_mesh(model, name, instances, [ds.port, CNPG_STATUS_PORT])
            out.append(_netpol(model, f"allow-{ds.name}-pooler-to-{name}-egress", poolers, ["Egress"],
                               egress=[{"to": [{"podSelector": {"matchLabels": instances}}], "ports": _ports(ds.port)}, *_api_server(model)]))
            out.append(_netpol(model, f"allow-{ds.name}-pooler-to-{name}-ingress", instances, ["Ingress"],
                               ingress=[{"from": [{"podSelector": {"matchLabels": poolers}}], "ports": _ports(ds.port)}]))
            out.append(_netpol(model, f"allow-cnpg-operator-to-{name}-ingress", instances, ["Ingress"],
                               ingress=[{"from": [_operator_peer("cloudnative-pg")], "ports": _ports(ds.port, CNPG_STATUS_PORT)}]))
            out.append(_netpol(model, f"allow-{name}-to-kubernetes-api-and-object-store-egress", instances, ["Egress"],
                               egress=[*_api_server(model), {"ports": _ports(443)}]))
        elif ds.kind == "redis":
            pods = selector(model, ds.name)
            out += _peer_mesh(model, cluster_name(ds), pods, [ds.port, SENTINEL_PORT])
            clients = [{"podSelector": {"matchLabels": selector(model, c)}} for c in model.clients_of(ds.name)]
            out.append(_netpol(model, f"allow-{ds.name}-clients-to-sentinel-ingress", pods, ["Ingress"],
                               ingress=[{"from": clients, "ports": _ports(SENTINEL_PORT)}]))
            out += [
                _netpol(model, f"allow-{c}-to-{ds.name}-sentinel-egress", selector(model, c), ["Egress"],
                        egress=[{"to": [{"podSelector": {"matchLabels": pods}}], "ports": _ports(SENTINEL_PORT)}])
                for c in model.clients_of(ds.name)
            ]
        elif ds.kind == "rabbitmq":
            pods = {"app.kubernetes.io/name": ds.name}
            out += _peer_mesh(model, ds.name, pods, [ds.port, *RABBIT_CLUSTER_PORTS])
            out.append(_netpol(model, f"allow-rabbitmq-operators-to-{ds.name}-ingress", pods, ["Ingress"],
                               ingress=[{"from": [_operator_peer("rabbitmq-cluster-operator")], "ports": _ports(RABBIT_OPERATOR_PORT)}]))
            out.append(_netpol(model, f"allow-{ds.name}-to-kubernetes-api-egress", pods, ["Egress"], egress=_api_server(model)))
    return sorted(out, key=lambda o: o["metadata"]["name"])


# --------------------------------------------------------------------------- files

BUILDERS = {"postgres": postgres_objects, "redis": redis_objects, "rabbitmq": rabbitmq_objects}

RECOVERY_NOTE = """\
# Point-in-time recovery example: NOT applied by the GitOps bundle (it lives outside the synced directory).
# It bootstraps a new cluster from the base backups and WAL archive of the live cluster. To stop at a
# moment before an incident, add under spec.bootstrap.recovery:
#   recoveryTarget: {targetTime: "<RFC 3339 time>"}
# then apply it, check the data, and point the Pooler's spec.cluster.name at the restored cluster.
"""


def generate(model: NetShopModel) -> Iterator[Artifact]:
    for ds in sorted(model.datastores, key=lambda d: d.name):
        yield Artifact(f"data-ha/{ds.kind}-{ds.name}.yaml", yaml_stream(BUILDERS[ds.kind](model, ds), __name__))
        if ds.kind == "postgres":
            body = header(__name__) + RECOVERY_NOTE + "---\n" + to_yaml(recovery_cluster(model, ds))
            yield Artifact(f"data-ha/examples/{ds.name}-recovery.yaml", body)
    yield Artifact("data-ha/networkpolicies.yaml", yaml_stream(network_policies(model), __name__))
