"""The HA data tier: schema-valid custom resources, replication, zone spread, per-service databases,
point-in-time recovery and quorum queues, all derived from the model."""

from __future__ import annotations

import yaml

from conftest import build, with_new_service
from crd_validation import all_problems
from generators.data_ha import cluster_name, role_secret
from generators.k8s import ZONE_KEY
from netshop.pipeline import render


def objs(model, prefix: str = "data-ha/") -> list[dict]:
    files = render(model, only=["data-ha"])
    return [d for path, body in sorted(files.items()) if path.startswith(prefix) for d in yaml.safe_load_all(body) if d]


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def test_every_data_ha_object_validates_against_its_schema(netshop, mini):
    for model in (netshop, mini):
        docs = objs(model)
        assert docs
        assert all_problems(docs) == []


def test_postgres_runs_one_primary_two_replicas_with_synchronous_quorum(netshop):
    clusters = {c["metadata"]["name"]: c for c in of_kind(objs(netshop, "data-ha/postgres-"), "Cluster")}
    for ds in (d for d in netshop.datastores if d.kind == "postgres"):
        spec = clusters[cluster_name(ds)]["spec"]
        assert spec["instances"] == 3
        sync = spec["postgresql"]["synchronous"]
        assert sync["method"] == "any" and sync["number"] >= 1 and sync["dataDurability"] == "required"
        assert spec["storage"]["size"] == ds.storage


def test_each_postgres_client_service_gets_its_own_database_and_owner(netshop):
    docs = objs(netshop)
    for ds in (d for d in netshop.datastores if d.kind == "postgres"):
        cluster = next(c for c in of_kind(docs, "Cluster") if c["metadata"]["name"] == cluster_name(ds))
        roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
        dbs = {d["spec"]["name"]: d["spec"]["owner"] for d in of_kind(docs, "Database") if d["spec"]["cluster"]["name"] == cluster_name(ds)}
        clients = [s.replace("-", "_") for s in netshop.clients_of(ds.name)]
        assert sorted(roles) == sorted(clients) == sorted(dbs)
        assert all(dbs[c] == c for c in clients)
        assert {r["passwordSecret"]["name"] for r in roles.values()} == {role_secret(ds, s) for s in netshop.clients_of(ds.name)}


def test_adding_a_postgres_client_adds_its_database_and_role(model_data):
    data = with_new_service(model_data)
    pg = next(d["name"] for d in data["datastores"] if d["kind"] == "postgres")
    data["data_edges"].append({"service": "wishlist", "datastore": pg, "purpose": "Wishlists"})
    docs = objs(build(data))
    assert any(d["spec"]["name"] == "wishlist" and d["spec"]["owner"] == "wishlist" for d in of_kind(docs, "Database"))
    assert all_problems(docs) == []


def test_every_replicated_workload_spreads_over_exactly_the_model_zones(netshop):
    zones = [z.name for z in netshop.platform.zones]
    docs = objs(netshop)

    def check(spec: dict, where: str) -> None:
        assert any(t["topologyKey"] == ZONE_KEY and t["whenUnsatisfiable"] == "DoNotSchedule" for t in spec["topologySpreadConstraints"]), where
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms[0]["matchExpressions"][0] == {"key": ZONE_KEY, "operator": "In", "values": zones}, where

    for c in of_kind(docs, "Cluster"):
        check(c["spec"], c["metadata"]["name"])
    for p in of_kind(docs, "Pooler"):
        check(p["spec"]["template"]["spec"], p["metadata"]["name"])
    for s in of_kind(docs, "StatefulSet"):
        assert s["spec"]["replicas"] == 3
        check(s["spec"]["template"]["spec"], s["metadata"]["name"])
    for r in of_kind(docs, "RabbitmqCluster"):
        assert r["spec"]["replicas"] == 3
        spec = {**r["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"], "affinity": r["spec"]["affinity"]}
        check(spec, r["metadata"]["name"])
    kinds = [d.kind for d in netshop.datastores]
    assert len(of_kind(docs, "Pooler")) == kinds.count("postgres")
    assert len(of_kind(docs, "StatefulSet")) == kinds.count("redis")
    assert len(of_kind(docs, "RabbitmqCluster")) == kinds.count("rabbitmq")


def test_wal_archiving_and_backups_point_at_an_object_store_for_point_in_time_recovery(netshop):
    docs = objs(netshop, "data-ha/")
    stores = {s["metadata"]["name"] for s in of_kind(docs, "ObjectStore")}
    live = [c for c in of_kind(docs, "Cluster") if "recovery" not in c["spec"].get("bootstrap", {})]
    for cluster in live:
        archiver = [p for p in cluster["spec"]["plugins"] if p.get("isWALArchiver")]
        assert len(archiver) == 1 and archiver[0]["parameters"]["barmanObjectName"] in stores
        backups = [b for b in of_kind(docs, "ScheduledBackup") if b["spec"]["cluster"]["name"] == cluster["metadata"]["name"]]
        assert backups and backups[0]["spec"]["method"] == "plugin"
    restore = [c for c in of_kind(docs, "Cluster") if "recovery" in c["spec"].get("bootstrap", {})]
    assert {c["spec"]["bootstrap"]["recovery"]["source"] for c in restore} == {c["metadata"]["name"] for c in live}
    for c in restore:  # the example restores from the live archive and archives under its own name
        source = c["spec"]["externalClusters"][0]["plugin"]["parameters"]
        assert source["barmanObjectName"] in stores and source["serverName"] == c["spec"]["bootstrap"]["recovery"]["source"]
        assert c["spec"]["plugins"][0]["parameters"]["serverName"] == c["metadata"]["name"]
    examples = render(netshop, only=["data-ha"])
    assert all("examples/" in p for p, b in examples.items() if b"recovery:" in b)


def _queues(model) -> dict[str, dict]:
    return {q["spec"]["name"]: q["spec"] for q in of_kind(objs(model), "Queue")}


def test_worker_subscriptions_are_quorum_queues_with_delivery_limits_and_dead_letter_queues(netshop):
    queues = _queues(netshop)
    bindings = {(b["spec"]["source"], b["spec"]["destination"]): b["spec"]["routingKey"] for b in of_kind(objs(netshop), "Binding")}
    expected = set()
    for event in netshop.events:
        exchange = netshop.exchange_by_name[event.exchange]
        for sub in event.subscriptions:
            expected |= {sub.queue, sub.dead_letter_queue}
            q = queues[sub.queue]
            assert q["type"] == "quorum" and q["durable"] is True
            assert q["arguments"]["x-delivery-limit"] == sub.max_deliveries
            assert q["arguments"]["x-dead-letter-exchange"] == exchange.dead_letter_exchange
            assert bindings[(exchange.name, sub.queue)] == sub.binding_key
            # a dead-lettered message is routed to this subscription's dead-letter queue only
            assert bindings[(exchange.dead_letter_exchange, sub.dead_letter_queue)] == q["arguments"]["x-dead-letter-routing-key"]
            assert queues[sub.dead_letter_queue]["type"] == "quorum"
    assert set(queues) == expected


def test_a_new_subscription_adds_its_quorum_queue(model_data):
    event = model_data["events"][0]
    event["subscriptions"].append({"consumer": event["subscriptions"][0]["consumer"], "queue": "audit.order-created",
                                   "binding_key": "order.#", "dead_letter_queue": "audit.order-created.dlq",
                                   "max_deliveries": 9, "effect": "Audit"})
    queues = _queues(build(model_data))
    assert queues["audit.order-created"]["arguments"]["x-delivery-limit"] == 9
    assert "audit.order-created.dlq" in queues


def test_redis_sentinel_is_reachable_by_exactly_the_redis_clients(netshop):
    for ds in (d for d in netshop.datastores if d.kind == "redis"):
        pols = {p["metadata"]["name"] for p in of_kind(objs(netshop), "NetworkPolicy")}
        allowed = {n.removeprefix("allow-").removesuffix(f"-to-{ds.name}-sentinel-egress") for n in pols if n.endswith(f"-to-{ds.name}-sentinel-egress")}
        assert allowed == set(netshop.clients_of(ds.name))
