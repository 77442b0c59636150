"""One change to the model flows into every family it concerns, and only there."""

from __future__ import annotations

import pytest

from conftest import build, with_new_service
from netshop.pipeline import render

# What an added app service must touch, and why.
SERVICE_FAMILIES = {
    "manifests": "its ServiceAccount, Deployment, Service, HPA and PDB",
    "policies": "its egress and ingress allows",
    "helm": "its entry in values.yaml",
    "kustomize": "its objects in the base and every overlay's replica floors",
    "local": "its supervisord program",
    "service-mesh": "its Server and authorisations",
    "observability": "its ServiceMonitor, SLO rules and dashboard panels",
    "diagrams": "the views it belongs to",
    "schema": None,  # the schema does not depend on the instance
}


@pytest.fixture(scope="module")
def before(netshop):
    return render(netshop)


def changed_families(before: dict, after: dict) -> set[str]:
    from generators import FAMILIES, family
    from netshop.pipeline import owns

    out = set()
    for name in FAMILIES:
        roots = family(name).ROOTS
        paths = {p for p in before if owns(roots, p)} | {p for p in after if owns(roots, p)}
        if any(before.get(p) != after.get(p) for p in paths):
            out.add(name)
    return out


def test_an_added_service_changes_every_family_it_concerns(before, model_data):
    after = render(build(with_new_service(model_data)))
    changed = changed_families(before, after)
    for name, why in SERVICE_FAMILIES.items():
        if why is None:
            assert name not in changed, f"{name} should not depend on the instance"
        else:
            assert name in changed, f"{name} did not follow the new service ({why})"
    new = [p for p in after if p not in before]
    assert any("wishlist" in p for p in new), "the new service should get its own files (e.g. its context diagram)"
    assert b"wishlist" in after["k8s/netshop.yaml"] and b"allow-wishlist-to-redis-egress" in after["k8s/networkpolicies.yaml"]


def test_an_added_edge_changes_policies_manifests_values_overlays_and_mesh(before, model_data):
    model_data["sync_edges"].append({"caller": "reviews", "callee": "users", "routes": ["GET /users/{user_id}"],
                                     "purpose": "Show the reviewer's name"})
    after = render(build(model_data))
    changed = changed_families(before, after)
    assert {"manifests", "policies", "helm", "kustomize", "service-mesh", "diagrams"} <= changed
    assert b"allow-reviews-to-users-egress" in after["k8s/networkpolicies.yaml"]
    assert b"allow-reviews-to-users-ingress" in after["k8s/networkpolicies.yaml"]
    import yaml

    values = yaml.safe_load(after["helm/netshop/values.yaml"])
    assert "users" in values["services"]["reviews"]["calls"]
    assert "users" not in yaml.safe_load(before["helm/netshop/values.yaml"])["services"]["reviews"]["calls"]
