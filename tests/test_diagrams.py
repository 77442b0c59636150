"""The diagrams family: at least 40 named views drawn from the model, reproducible DOT, SVG and PNG, KubeDiagrams."""

from __future__ import annotations

import json
import re

import pytest

from generators import diagrams as family
from generators import diagrams_kit as kit
from generators import diagrams_kube as kube
from generators import diagrams_render
from generators.base import yaml_stream
from generators.diagrams_views import saga_flows, saga_key
from generators.k8s import objects

try:  # tests/ is a package on main; without tests/__init__.py pytest puts tests/ itself on sys.path
    from tests.conftest import build, with_new_service
except ImportError:  # pragma: no cover
    from conftest import build, with_new_service

UUID_ID = re.compile(r"\b[0-9a-f]{32}\b")
ABSOLUTE = re.compile(r'(?:image|src|href)="/|site-packages|/work/|/tmp/|/root/')


@pytest.fixture(scope="module")
def views(netshop):
    return family.views(netshop)


@pytest.fixture(scope="module")
def by_key(views):
    return {v.key: v for v in views}


@pytest.fixture(scope="module")
def committed(repo):
    root = repo / "generated"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "diagrams").iterdir()}


def test_at_least_forty_views_each_with_a_kebab_case_key_that_names_its_files(views):
    assert len(views) >= 40
    keys = [v.key for v in views]
    assert len(set(keys)) == len(keys)
    for v in views:
        assert kit.KEY.match(v.key), v.key
        assert v.files == {ext: f"diagrams/{v.key}.{ext}" for ext in ("dot", "svg", "png")}
        assert v.title and v.caption and v.draws


def test_committed_files_are_exactly_the_views_dot_svg_and_png(views, committed):
    expected = {path for v in views for path in v.files.values()} | {kube.CONFIG, family.INDEX}
    assert set(committed) == expected


def test_views_json_catalogues_every_view_for_the_docs_and_report(views, committed):
    index = json.loads(committed[family.INDEX])
    assert [v["key"] for v in index["views"]] == [v.key for v in views]
    assert all(set(v) >= {"key", "title", "caption", "kind", "subject", "draws", "files"} for v in index["views"])


def test_the_issue_topics_each_have_a_view(netshop, by_key):
    required = {"platform", "edge-path", "zero-trust-policies", "multi-zone-topology", "service-discovery", "autoscaling",
                "storage", "namespace-governance", "service-mesh", "observability-tracing", "observability-metrics",
                "observability-logs", "data-ha", "backup-dr", "gitops", "supply-chain", "defence-in-depth", "multi-cloud",
                "jwt-lifecycle", "kube-manifests"}
    required |= {f"tier-{t.name}" for t in netshop.platform.tiers}
    required |= {saga_key(e) for e, _ in saga_flows(netshop)}
    required |= {f"fanout-{e.name.replace('.', '-')}" for e in netshop.events}
    assert not required - set(by_key)
    assert saga_flows(netshop), "the model's checkout publishes an event, so there is a saga view"


def test_every_service_and_datastore_has_a_context_view_and_every_flow_a_sequence(netshop, views):
    contexts = {v.subject: v for v in views if v.kind == "context"}
    sequences = {v.subject: v for v in views if v.kind == "sequence"}
    assert set(contexts) == set(netshop.workload_names)
    assert set(sequences) == {f.name for f in netshop.flows}
    for name, v in contexts.items():
        assert v.key == f"context-{name}" and name in v.draws
    for flow in netshop.flows:
        steps = {n for s in flow.steps for n in (s.source, s.to) if n}
        assert steps <= set(sequences[flow.name].draws)
    first = netshop.services[0].name
    assert family.context_view(netshop, first).key == f"context-{first}"
    assert family.sequence_view(netshop, netshop.flows[0].name).key == f"sequence-{netshop.flows[0].name}"


def test_dot_has_stable_node_ids_fonts_and_no_absolute_paths(netshop, views):
    again = {v.key: v.dot for v in family.views(netshop)}
    for v in views:
        if not v.dot:
            continue
        assert again[v.key] == v.dot, f"{v.key} is not deterministic"
        assert v.dot.startswith("// DO NOT EDIT")
        assert not UUID_ID.search(v.dot), f"{v.key} has a random node id"
        assert not ABSOLUTE.search(v.dot), f"{v.key} references an absolute path"
        assert "Sans-Serif" not in v.dot and kit.FONT in v.dot


def test_committed_svgs_embed_their_icons_and_reference_no_paths(committed):
    svgs = {p: c.decode() for p, c in committed.items() if p.endswith(".svg")}
    assert svgs
    for path, svg in svgs.items():
        assert not re.search(r'xlink:href="(?!#|data:image/png;base64,)', svg), path
        assert not ABSOLUTE.search(svg), path


def test_committed_dot_files_have_no_random_ids_including_kubediagrams(committed):
    for path, content in committed.items():
        if path.endswith(".dot"):
            assert not UUID_ID.search(content.decode()), path


SAMPLE = ("platform", "sequence-checkout-saga", "context-orders", "zero-trust-policies")


def test_renders_are_byte_reproducible_and_match_the_committed_files(by_key, committed):
    """A bounded subset rendered twice here; the slow test below renders every view."""
    dots = {k: by_key[k].dot for k in SAMPLE}
    first, second = diagrams_render.render_many(dots), diagrams_render.render_many(dots)
    for k in SAMPLE:
        assert first[k] == second[k]
        svg, png = first[k]
        assert png.startswith(b"\x89PNG") and b"<svg" in svg
        assert committed[f"diagrams/{k}.svg"] == svg and committed[f"diagrams/{k}.png"] == png


@pytest.mark.slow
def test_every_committed_render_is_what_this_toolchain_produces(views, committed):
    rendered = diagrams_render.render_many({v.key: v.dot for v in views if v.dot})
    for key, (svg, png) in rendered.items():
        assert committed[f"diagrams/{key}.svg"] == svg, key
        assert committed[f"diagrams/{key}.png"] == png, key


def test_an_added_service_and_its_edges_appear_in_every_view_they_belong_to(netshop, model_data):
    changed = build(with_new_service(model_data))
    before = {v.key: v for v in family.views(netshop)}
    after = {v.key: v for v in family.views(changed)}
    new = next(s for s in changed.services if s.name not in netshop.service_by_name)
    new_edges = [e for e in changed.sync_edges if new.name in (e.caller, e.callee)]
    new_data = [e for e in changed.data_edges if e.service == new.name]
    assert f"context-{new.name}" in after and f"context-{new.name}" not in before
    for key in ("platform", f"tier-{new.tier}", f"context-{new.name}", "zero-trust-policies", "service-mesh", "autoscaling"):
        assert new.name in after[key].draws, key
        assert new.name in after[key].dot and (key not in before or after[key].dot != before[key].dot), key
    for e in new_edges:
        other = e.callee if e.caller == new.name else e.caller
        for key in ("platform", f"context-{other}", f"context-{new.name}", "zero-trust-policies", "service-mesh"):
            assert e.id in after[key].draws, (key, e.id)
    for e in new_data:
        for key in ("data-access", f"context-{e.datastore}", "zero-trust-policies"):
            assert e.id in after[key].draws, (key, e.id)
    untouched = [k for k, v in before.items() if v.kind == "sequence"]
    assert untouched and all(after[k].dot == before[k].dot for k in untouched), "flows without the service do not change"


def test_views_follow_a_different_model_and_skip_capabilities_it_lacks(mini):
    keys = {v.key for v in family.views(mini)}
    assert {f"context-{n}" for n in mini.workload_names} <= keys
    assert {f"sequence-{f.name}" for f in mini.flows} <= keys
    declared = {c.id for c in mini.capabilities}
    assert ("service-mesh" in keys) == ("mesh" in declared)
    assert ("gitops" in keys) == ("gitops" in declared)


# --------------------------------------------------------------------------- KubeDiagrams


def _manifest_files(model) -> dict[str, bytes]:
    return {kube.MANIFESTS: yaml_stream(objects(model), "generators.manifests").encode(),
            kube.CONFIG: kube.config_text(model).encode()}


def test_kubediagrams_output_is_reproducible_grouped_by_tier_with_the_call_edges(netshop, committed):
    files = _manifest_files(netshop)
    (job,) = kube.jobs(files)
    first, second = kube.run(job, files), kube.run(job, files)
    assert first == second
    dot = first["diagrams/kube-manifests.dot"].decode()
    assert not UUID_ID.search(dot) and not ABSOLUTE.search(dot)
    assert "kd0001" in dot, "KubeDiagrams' uuid node ids are replaced by a counter"
    for tier in {s.tier for s in netshop.services}:
        assert f"Tier: {tier}" in dot
    assert dot.count(f'color="{kit.SYNC}"') >= len(netshop.sync_edges)
    assert first["diagrams/kube-manifests.png"] == committed["diagrams/kube-manifests.png"]


def test_kubediagrams_renders_a_gke_overlay_when_the_kustomize_tree_has_one(netshop):
    files = _manifest_files(netshop)
    files["kustomize/base/netshop.yaml"] = files[kube.MANIFESTS]
    files["kustomize/base/kustomization.yaml"] = b"resources: [netshop.yaml]\n"
    files["kustomize/overlays/gke/kustomization.yaml"] = b"resources: [../../base]\nnamePrefix: gke-\n"
    jobs = kube.jobs(files)
    assert [j.outputs[0] for j in jobs] == ["diagrams/kube-manifests.dot", "diagrams/kube-overlay-gke.dot"]
    out = kube.run(jobs[1], files)
    dot = out["diagrams/kube-overlay-gke.dot"].decode()
    assert "gke-orders" in dot and not UUID_ID.search(dot)
    assert dot.count(f'color="{kit.SYNC}"') >= len(netshop.sync_edges), "edges follow the renamed objects"
    assert out["diagrams/kube-overlay-gke.svg"].startswith(b"<?xml")
