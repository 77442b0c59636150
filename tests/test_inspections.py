"""Every inspection rule passes on the NetShop model and fails on a model built to break it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from model import ModelError, parse
from model.inspections import RULES, inspect, topic_matches


def svc(data: dict, name: str) -> dict:
    return next(s for s in data["services"] if s["name"] == name)


def edge(data: dict, caller: str, callee: str) -> dict:
    return next(e for e in data["sync_edges"] if e["caller"] == caller and e["callee"] == callee)


def flow(data: dict, name: str) -> dict:
    return next(f for f in data["flows"] if f["name"] == name)


def order_created(data: dict) -> dict:
    return next(e for e in data["events"] if e["name"] == "order.created")


# rule id -> a mutation that breaks exactly that rule (GIVEN the NetShop model WHEN ...)
BREAKERS: dict[str, Callable[[dict], None]] = {
    "platform.tiers.complete": lambda d: d["platform"]["tiers"].reverse(),
    "platform.zones.unique": lambda d: d["platform"]["zones"].append(dict(d["platform"]["zones"][0])),
    "name.unique": lambda d: svc(d, "search").update(name="reviews"),
    "port.unique": lambda d: svc(d, "search").update(port=svc(d, "reviews")["port"]),
    "route.unique": lambda d: svc(d, "search")["routes"].append(dict(svc(d, "search")["routes"][0])),
    "route.public.unique": lambda d: svc(d, "search")["routes"].append(
        {"method": "GET", "path": "/products", "summary": "clash", "public": True}
    ),
    "edge.source.exists": lambda d: d["sync_edges"].append({"caller": "ghost", "callee": "products", "routes": ["*"], "purpose": "x"}),
    "edge.target.exists": lambda d: edge(d, "search", "products").update(callee="catalog"),
    "edge.no-self": lambda d: d["sync_edges"].append({"caller": "products", "callee": "products", "routes": ["*"], "purpose": "x"}),
    "edge.unique": lambda d: d["sync_edges"].append(dict(edge(d, "search", "products"))),
    "edge.route.exists": lambda d: edge(d, "search", "products").update(routes=["DELETE /products"]),
    "data-edge.service.exists": lambda d: d["data_edges"].append({"service": "ghost", "datastore": "redis", "purpose": "x"}),
    "data-edge.datastore.exists": lambda d: d["data_edges"].append({"service": "search", "datastore": "mongo", "purpose": "x"}),
    "data-edge.unique": lambda d: d["data_edges"].append(dict(d["data_edges"][0])),
    "data-edge.broker.implied": lambda d: d["data_edges"].append({"service": "orders", "datastore": "rabbitmq", "purpose": "x"}),
    "ingress.service.exists": lambda d: d["platform"]["ingress"].update(service="products"),
    "tier.worker.no-inbound-sync": lambda d: d["sync_edges"].append(
        {"caller": "api-gateway", "callee": "inventory", "routes": ["*"], "purpose": "x"}
    )
    or svc(d, "inventory").update(routes=[{"method": "GET", "path": "/stock", "summary": "x"}]),
    "tier.edge.no-call-from-below": lambda d: d["sync_edges"].append(
        {"caller": "orders", "callee": "frontend", "routes": ["GET /bff/home"], "purpose": "x"}
    ),
    "tier.data.only-data-edges": lambda d: d["sync_edges"].append({"caller": "search", "callee": "postgres", "routes": ["*"], "purpose": "x"}),
    "event.name.unique": lambda d: d["events"].append(
        {**order_created(d), "subscriptions": [
            {**s, "queue": s["queue"] + "-2", "dead_letter_queue": s["dead_letter_queue"] + "-2"} for s in order_created(d)["subscriptions"]
        ]}
    ),
    "event.producer.exists": lambda d: order_created(d).update(producer="checkout"),
    "event.exchange.exists": lambda d: order_created(d).update(exchange="netshop.nowhere"),
    "exchange.broker.exists": lambda d: d["exchanges"][0].update(broker="redis"),
    "event.has-consumer": lambda d: order_created(d).update(subscriptions=[]),
    "event.consumer.exists": lambda d: order_created(d)["subscriptions"][0].update(consumer="billing"),
    "event.queue.unique": lambda d: order_created(d)["subscriptions"][1].update(queue=order_created(d)["subscriptions"][0]["queue"]),
    "event.binding.matches": lambda d: order_created(d)["subscriptions"][0].update(binding_key="payment.*"),
    "flow.step.declared": lambda d: flow(d, "search")["steps"].append({"from": "search", "to": "redis", "note": "undeclared"}),
    "flow.step.route.exists": lambda d: flow(d, "search")["steps"][2].update(route="GET /products/categories"),
    "flow.name.unique": lambda d: d["flows"].append(dict(flow(d, "search"))),
    "scaling.min-le-max": lambda d: svc(d, "inventory")["scaling"].update(min=5, max=4),
    "scaling.ha-per-zone": lambda d: svc(d, "products")["scaling"].update(min=2),
    "capability.unique": lambda d: d["capabilities"].append(dict(d["capabilities"][0])),
    "cloud.name.unique": lambda d: d["clouds"].append(dict(d["clouds"][0])),
    "cloud.zones.cover-model": lambda d: d["clouds"][1]["zones"].pop("zone-c"),
    "cloud.ingress-source.set": lambda d: d["clouds"][1].update(ingress_source={"cidrs": []}),
    "cloud.replicas.ha-per-zone": lambda d: d["clouds"][0].update(replicas={"app": 1}),
}


def problems_of(data: dict):
    loaded = parse(yaml.safe_dump(data, sort_keys=False), file="broken.yaml")
    return inspect(loaded)


def test_the_netshop_model_passes_every_inspection(model_data):
    assert problems_of(model_data) == []


def test_every_rule_has_a_failing_fixture():
    assert set(BREAKERS) == set(RULES), "add a breaking fixture for each new rule (and remove stale ones)"


@pytest.mark.parametrize("rule_id", sorted(BREAKERS))
def test_rule_fails_on_a_model_that_breaks_it(rule_id, model_data):
    # GIVEN a copy of the model WHEN one fact is broken
    BREAKERS[rule_id](model_data)
    # THEN that rule reports it, with the file, a YAML path, a line and a fix
    found = [p for p in problems_of(model_data) if p.rule == rule_id]
    assert found, f"{rule_id} did not fire"
    for p in found:
        assert p.file == "broken.yaml"
        assert p.path and p.path != "<root>"
        assert p.line is not None and p.line > 0
        assert p.fix
        assert rule_id in p.render() and p.path in p.render()


def test_schema_errors_name_file_yaml_path_line_and_fix(model_data):
    # GIVEN a port that is not a number and a misspelt key
    model_data["services"][3]["port"] = "eighty"
    model_data["services"][4]["replica"] = 3
    with pytest.raises(ModelError) as exc:
        parse(yaml.safe_dump(model_data, sort_keys=False), file="broken.yaml")
    rendered = {p.path: p for p in exc.value.problems}
    assert "services[3].port" in rendered and rendered["services[3].port"].line
    assert "services[4].replica" in rendered and "remove the field" in rendered["services[4].replica"].fix
    assert all(p.file == "broken.yaml" for p in exc.value.problems)


def test_yaml_syntax_errors_point_at_the_line():
    with pytest.raises(ModelError) as exc:
        parse("platform:\n  name: [unclosed\n", file="bad.yaml")
    (problem,) = exc.value.problems
    assert problem.rule == "yaml.syntax" and problem.line is not None


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("order.created", "order.created", True),
        ("order.*", "order.created", True),
        ("order.*", "order.created.v2", False),
        ("order.#", "order", True),
        ("order.#", "order.created.v2", True),
        ("#", "anything.at.all", True),
        ("*.created", "order.created", True),
        ("payment.*", "order.created", False),
    ],
)
def test_topic_binding_follows_amqp_semantics(pattern, key, matches):
    assert topic_matches(pattern, key) is matches
