"""The `diagrams` family: named views over the model as DOT, rendered to SVG (site) and PNG (README, report).

`views(model)` is the catalogue other generators (the docs site, the report) build on: each view
has a kebab-case key that names its files, a title, a caption, what it is about (`kind`,
`subject`) and the model ids it draws. `generate()` yields only the cheap text: one DOT per view,
the KubeDiagrams config and `diagrams/views.json`. The SVG and PNG renders, and the KubeDiagrams
runs, are derived artifacts: the pipeline re-renders them only when their DOT or inputs change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from model.schema import NetShopModel

from . import FAMILIES, diagrams_kube
from .base import Artifact, Derived, json_file
from .diagrams_capabilities import capability_views
from .diagrams_kit import KEY, ROOT, View
from .diagrams_platform import platform_views
from .diagrams_render import render_many, toolchain
from .diagrams_sequence import sequence_views
from .diagrams_views import architecture_views

ROOTS = ("diagrams/",)
INDEX = f"{ROOT}views.json"


def _overlay_clouds(model: NetShopModel) -> list[str]:
    """Overlays KubeDiagrams will draw: those the kustomize family generates for this model."""
    if "kustomize" not in FAMILIES:
        return []
    from . import family

    return diagrams_kube.overlays({a.path for a in family("kustomize").generate(model)})


def views(model: NetShopModel) -> list[View]:
    """Every view, in reading order: architecture, sequences, platform mechanics, capabilities, KubeDiagrams."""
    out = architecture_views(model) + sequence_views(model) + platform_views(model) + capability_views(model)
    out += diagrams_kube.views(model, _overlay_clouds(model))
    keys = [v.key for v in out]
    bad = [k for k in keys if not KEY.match(k)]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if bad or dupes:
        raise ValueError(f"view keys must be unique kebab-case: bad {bad}, duplicated {dupes}")
    return out


def context_view(model: NetShopModel, workload: str) -> View:
    """The context diagram of a service or datastore."""
    return next(v for v in views(model) if v.kind == "context" and v.subject == workload)


def sequence_view(model: NetShopModel, flow: str) -> View:
    """The sequence diagram of a flow."""
    return next(v for v in views(model) if v.kind == "sequence" and v.subject == flow)


def index(all_views: list[View]) -> dict:
    return {
        "views": [
            {"key": v.key, "title": v.title, "caption": v.caption, "kind": v.kind, "subject": v.subject,
             "draws": list(v.draws), "files": v.files}
            for v in all_views
        ]
    }


def generate(model: NetShopModel) -> Iterator[Artifact]:
    all_views = views(model)
    for v in all_views:
        if v.dot:
            yield Artifact(v.files["dot"], v.dot)
    yield Artifact(diagrams_kube.CONFIG, diagrams_kube.config_text(model))
    yield Artifact(INDEX, json_file(index(all_views), __name__))


# --------------------------------------------------------------------------- derived renders


def derived(files: Mapping[str, bytes]) -> list[Derived]:
    """SVG and PNG from each view's DOT, and the KubeDiagrams runs."""
    kube = diagrams_kube.jobs(files)
    kube_outputs = {o for job in kube for o in job.outputs}
    dots = sorted(p for p in files if p.startswith(ROOT) and p.endswith(".dot") and p not in kube_outputs)
    graphviz = [Derived((p.removesuffix(".dot") + ".svg", p.removesuffix(".dot") + ".png"), (p,), toolchain()) for p in dots]
    return graphviz + kube


def render_derived(jobs: list[Derived], files: Mapping[str, bytes]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    kube = [j for j in jobs if j.tool.startswith("kubediagrams")]
    dots = {j.inputs[0]: files[j.inputs[0]].decode("utf-8") for j in jobs if j not in kube}
    for src, (svg, png) in render_many(dots).items():
        stem = src.removesuffix(".dot")
        out[f"{stem}.svg"], out[f"{stem}.png"] = svg, png
    for job in kube:
        out.update(diagrams_kube.run(job, files))
    return out
