"""The one writer of `generated/`: renders families, writes or checks, keeps `generated/MANIFEST`.

`netshop generate` and `netshop generate --check` both call `sync()`; only `write` differs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from generators import FAMILIES, family
from generators.base import Artifact, Derived, header
from model.schema import NetShopModel

REPO = Path(__file__).resolve().parent.parent
GENERATED = REPO / "generated"
MANIFEST = "MANIFEST"
RENDERS = "RENDERS"  # cache record of derived files: `key  sha256  path`
FIX_COMMAND = "netshop generate   (or: make generate), then commit generated/"


def fix_command(only: list[str] | None = None, model: Path | None = None, output: Path | None = None) -> str:
    """The command that brings a drifted tree back in line, with the options the check ran with."""
    if not (only or model or output):
        return FIX_COMMAND
    args = [*(f"--only {name}" for name in dict.fromkeys(only or [])), *([f"--model {model}"] if model else [])]
    args += [f"--output {output}"] if output else []
    return " ".join(["netshop generate", *args])


class GeneratorError(Exception):
    """A family produced something the writer refuses (a path outside its roots, a duplicate)."""


def owns(roots: tuple[str, ...], path: str) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def render(model: NetShopModel, only: list[str] | None = None) -> dict[str, bytes]:
    """Run the chosen families (default: all) in memory; path -> exact bytes."""
    names = list(dict.fromkeys(only or FAMILIES))
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise GeneratorError(f"unknown family {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    out: dict[str, bytes] = {}
    for name in names:
        mod = family(name)
        for art in mod.generate(model):
            if not isinstance(art, Artifact):
                raise GeneratorError(f"{mod.__name__} yielded {type(art).__name__}, not an Artifact")
            if not owns(mod.ROOTS, art.path):
                raise GeneratorError(f"{mod.__name__} wrote {art.path}, outside its roots {mod.ROOTS}")
            if art.path in out:
                raise GeneratorError(f"{art.path} is produced twice")
            out[art.path] = art.content.encode("utf-8") if isinstance(art.content, str) else art.content
    return out


def manifest(files: dict[str, bytes]) -> bytes:
    """`sha256  path` per file, sorted: `sha256sum -c` can verify a checkout (ignore the banner line)."""
    lines = [
        f"{hashlib.sha256(content).hexdigest()}  {path}"
        for path, content in sorted(files.items())
        if path != MANIFEST
    ]
    return (header("netshop.pipeline") + "\n".join(lines) + "\n").encode("utf-8")


def on_disk(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def derivation_key(job: Derived, files: dict[str, bytes]) -> str:
    """What a derived file depends on: its tool and the exact bytes of its inputs."""
    h = hashlib.sha256(job.tool.encode("utf-8"))
    for p in sorted(job.inputs):
        h.update(f"\0{p}\0{_sha(files[p])}".encode("utf-8"))
    return h.hexdigest()


def _records(text: bytes | None) -> dict[str, tuple[str, str]]:
    """RENDERS as path -> (key, sha256 of the output)."""
    out = {}
    for line in (text or b"").decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            key, sha, path = line.split(maxsplit=2)
            out[path] = (key, sha)
    return out


def derive(names: list[str], files: dict[str, bytes], current: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, str], list[str]]:
    """Derived files of the families `names`: reused from `current` while RENDERS records their key, else rendered.

    Returns the outputs, their keys and the paths rendered in this run.
    """
    recorded = _records(current.get(RENDERS))
    out: dict[str, bytes] = {}
    keys: dict[str, str] = {}
    rendered: list[str] = []
    for name in names:
        mod = family(name)
        if not hasattr(mod, "derived"):
            continue
        todo: list[Derived] = []
        for job in mod.derived(files):
            missing = [p for p in job.inputs if p not in files]
            if missing:
                raise GeneratorError(f"{mod.__name__} derives {job.outputs[0]} from missing {', '.join(missing)}")
            for o in job.outputs:
                if not owns(mod.ROOTS, o):
                    raise GeneratorError(f"{mod.__name__} derives {o}, outside its roots {mod.ROOTS}")
                if o in files or o in keys:
                    raise GeneratorError(f"{o} is produced twice")
            key = derivation_key(job, files)
            keys.update(dict.fromkeys(job.outputs, key))
            if all(o in current and recorded.get(o) == (key, _sha(current[o])) for o in job.outputs):
                out.update({o: current[o] for o in job.outputs})
            else:
                todo.append(job)
        if todo:
            made = mod.render_derived(todo, files)
            wanted = [o for job in todo for o in job.outputs]
            if sorted(made) != sorted(wanted):
                raise GeneratorError(f"{mod.__name__} rendered {sorted(made)}, expected {sorted(wanted)}")
            out.update(made)
            rendered += wanted
    return out, keys, sorted(rendered)


def renders(keys: dict[str, str], files: dict[str, bytes]) -> bytes:
    lines = [f"{keys[p]}  {_sha(files[p])}  {p}" for p in sorted(keys)]
    return (header("netshop.pipeline") + "\n".join(lines) + "\n").encode("utf-8")


@dataclass
class Drift:
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)  # derived files rendered (not reused) in this run

    @property
    def clean(self) -> bool:
        return not (self.stale or self.missing or self.extra)


def sync(model: NetShopModel, root: Path = GENERATED, only: list[str] | None = None, write: bool = True) -> Drift:
    """Bring `root` in line with the model (write) or report how it differs (check)."""
    produced = render(model, only)
    current = on_disk(root)
    names = only or list(FAMILIES)
    roots = tuple(r for name in names for r in family(name).ROOTS)
    if only:
        managed = {p for p in current if owns(roots, p)}
        expected = {**{p: c for p, c in current.items() if not owns(roots, p) and p not in (MANIFEST, RENDERS)}, **produced}
    else:
        managed = set(current)
        expected = dict(produced)
    derived, keys, rendered = derive(names, expected, current)
    expected.update(derived)
    kept = {p: k for p, (k, _) in _records(current.get(RENDERS)).items() if p in expected and not owns(roots, p)}
    if keys or kept:
        expected[RENDERS] = renders({**kept, **keys}, expected)
    expected[MANIFEST] = manifest(expected)
    managed |= {MANIFEST, RENDERS}

    drift = Drift(
        stale=sorted(p for p in expected if p in current and current[p] != expected[p]),
        missing=sorted(p for p in expected if p not in current),
        extra=sorted(p for p in managed if p in current and p not in expected),
        rendered=rendered,
    )
    if write:
        for p in drift.extra:
            (root / p).unlink()
        for p in drift.stale + drift.missing:
            target = root / p
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(expected[p])
        _prune_empty_dirs(root)
    return drift


def _prune_empty_dirs(root: Path) -> None:
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
