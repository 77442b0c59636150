"""Loading the model from YAML, with every error pointing at a file, a YAML path and a line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from .schema import NetShopModel

DEFAULT_PATH = Path(__file__).resolve().parent / "netshop.yaml"


def default_model_path() -> Path:
    """`NETSHOP_MODEL` when set (containers mount the model there), else the repository's model."""
    return Path(os.environ.get("NETSHOP_MODEL", DEFAULT_PATH))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a model file: where, what, and how to fix it."""

    rule: str
    path: str
    message: str
    fix: str
    file: str = ""
    line: int | None = None

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: [{self.rule}] {self.message}. Fix: {self.fix}"


@dataclass
class ModelError(Exception):
    """The model file could not be turned into a valid model."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(p.render() for p in self.problems)


def yaml_path(loc: tuple) -> str:
    """('services', 3, 'port') -> 'services[3].port'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _line_index(text: str) -> dict[str, int]:
    """Map each YAML path in a document to its 1-based line number."""
    index: dict[str, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return index

    def walk(node: yaml.Node, loc: tuple) -> None:
        index[yaml_path(loc)] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                index[yaml_path((*loc, key.value))] = key.start_mark.line + 1
                walk(value, (*loc, key.value))
                # keep the key's own line for the path, which points at where to edit
                index[yaml_path((*loc, key.value))] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*loc, i))

    if root is not None:
        walk(root, ())
    return index


_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove the field or correct its spelling (see generated/model.schema.json)",
    "string_pattern_mismatch": "use a value that matches the pattern",
    "literal_error": "use one of the allowed values",
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "greater_than_equal": "raise the value",
    "less_than_equal": "lower the value",
    "too_short": "add at least one entry",
}


@dataclass
class LoadedModel:
    """A validated model together with where its facts live in the source file."""

    model: NetShopModel
    file: str
    lines: dict[str, int]

    def locate(self, path: str) -> int | None:
        """Line of a YAML path, or of its nearest ancestor that exists in the file."""
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return None


def parse(text: str, file: str = "<model>") -> LoadedModel:
    """Validate YAML text against the schema; raise ModelError naming file, path and fix."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ModelError(
            [
                Problem(
                    rule="yaml.syntax",
                    path="<root>",
                    message=str(getattr(exc, "problem", exc)),
                    fix="correct the YAML syntax at that line",
                    file=file,
                    line=mark.line + 1 if mark else None,
                )
            ]
        ) from exc
    lines = _line_index(text)
    if not isinstance(data, dict):
        raise ModelError(
            [Problem("schema.root", "<root>", "the model must be a YAML mapping", "start from model/netshop.yaml", file, 1)]
        )
    try:
        model = NetShopModel.model_validate(data)
    except ValidationError as exc:
        loaded = LoadedModel(model=None, file=file, lines=lines)  # type: ignore[arg-type]
        problems = []
        for err in exc.errors():
            path = yaml_path(err["loc"])
            problems.append(
                Problem(
                    rule=f"schema.{err['type']}",
                    path=path,
                    message=err["msg"],
                    fix=_FIXES.get(err["type"], "correct the value to match the schema"),
                    file=file,
                    line=loaded.locate(path),
                )
            )
        raise ModelError(problems) from exc
    return LoadedModel(model=model, file=file, lines=lines)


def load_file(path: str | Path | None = None) -> LoadedModel:
    """Read and validate a model file (default: the NetShop model)."""
    p = Path(path) if path else default_model_path()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError([Problem("file.read", "<root>", str(exc), "pass the path of a model YAML file", str(p))]) from exc
    return parse(text, file=_display(p))


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def load_model(path: str | Path | None = None) -> NetShopModel:
    """The validated model, without inspections (services call this at start)."""
    return load_file(path).model
