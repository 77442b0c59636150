"""Derived artifacts: the writer re-renders a family's slow outputs only when their inputs or tool change."""

from __future__ import annotations

import sys
import types

import pytest

from generators import FAMILIES
from generators.base import Artifact, Derived
from netshop import pipeline


def _toy_family(calls: list[str], tool: str = "upper 1") -> types.ModuleType:
    """A family with one text artifact and one derived file (its upper-cased copy)."""
    mod = types.ModuleType("tests.toy_family")
    mod.ROOTS = ("toy/",)
    mod.generate = lambda model: [Artifact("toy/name.txt", f"{model.platform.name}\n")]
    mod.derived = lambda files: [Derived(("toy/name.up",), ("toy/name.txt",), tool)]

    def render_derived(jobs, files):
        calls.extend(o for j in jobs for o in j.outputs)
        return {j.outputs[0]: files[j.inputs[0]].upper() for j in jobs}

    mod.render_derived = render_derived
    return mod


@pytest.fixture
def toy(monkeypatch):
    calls: list[str] = []

    def install(tool: str = "upper 1") -> list[str]:
        monkeypatch.setitem(sys.modules, "tests.toy_family", _toy_family(calls, tool))
        monkeypatch.setitem(FAMILIES, "toy", "tests.toy_family")
        return calls

    return install


def test_derived_files_are_rendered_once_then_reused_while_inputs_are_unchanged(toy, mini, tmp_path):
    calls = toy()
    first = pipeline.sync(mini, root=tmp_path, only=["toy"])
    assert first.rendered == ["toy/name.up"] and calls == ["toy/name.up"]
    assert (tmp_path / "toy/name.up").read_text() == mini.platform.name.upper() + "\n"
    assert "toy/name.up" in (tmp_path / pipeline.RENDERS).read_text()
    second = pipeline.sync(mini, root=tmp_path, only=["toy"], write=False)
    assert second.clean and second.rendered == [] and calls == ["toy/name.up"]


def test_a_changed_input_re_renders_its_derived_files(toy, mini, netshop, tmp_path):
    calls = toy()
    pipeline.sync(mini, root=tmp_path, only=["toy"])
    drift = pipeline.sync(netshop, root=tmp_path, only=["toy"], write=False)
    assert drift.rendered == ["toy/name.up"] and "toy/name.up" in drift.stale and len(calls) == 2


def test_a_changed_tool_re_renders_even_with_identical_inputs(toy, mini, tmp_path):
    toy("upper 1")
    pipeline.sync(mini, root=tmp_path, only=["toy"])
    toy("upper 2")
    drift = pipeline.sync(mini, root=tmp_path, only=["toy"], write=False)
    assert drift.rendered == ["toy/name.up"]
    assert set(drift.stale) == {pipeline.MANIFEST, pipeline.RENDERS}, "same bytes, new key recorded"


def test_a_hand_edited_derived_file_is_caught_by_the_check(toy, mini, tmp_path):
    toy()
    pipeline.sync(mini, root=tmp_path, only=["toy"])
    (tmp_path / "toy/name.up").write_text("edited\n")
    drift = pipeline.sync(mini, root=tmp_path, only=["toy"], write=False)
    assert drift.stale == ["toy/name.up"] and drift.rendered == ["toy/name.up"]
    pipeline.sync(mini, root=tmp_path, only=["toy"])
    assert (tmp_path / "toy/name.up").read_text() == mini.platform.name.upper() + "\n"


def test_derived_outputs_outside_the_family_roots_are_refused(toy, mini, tmp_path, monkeypatch):
    toy()
    mod = sys.modules["tests.toy_family"]
    monkeypatch.setattr(mod, "derived", lambda files: [Derived(("elsewhere/x",), ("toy/name.txt",), "t")])
    with pytest.raises(pipeline.GeneratorError, match="outside its roots"):
        pipeline.sync(mini, root=tmp_path, only=["toy"])
