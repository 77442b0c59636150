"""MkDocs hooks: mount the model's generated pages into the site and expand each service's OpenAPI.

`mkdocs.yml` lists the hand-written pages in `docs/`. The `docs` generator family writes the
model's pages to `generated/docs/` and the `diagrams` family the pictures to `generated/diagrams/`;
this hook adds both to the site (pages at their path under `generated/docs/`, diagrams under
`diagrams/`), appends the Reference section from `generated/docs/nav.yml` to the navigation, and
replaces each `<!-- netshop:openapi NAME -->` marker with the tables of that service's OpenAPI
document, taken from its FastAPI app (`app.openapi()`), which it also publishes as
`openapi/NAME.json`. So the API tables always describe the code the site was built from.
"""

from __future__ import annotations

import importlib
import json
import re
import warnings
from functools import cache
from pathlib import Path

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

REPO = Path(__file__).resolve().parent.parent
GENERATED = REPO / "generated"
PAGES = GENERATED / "docs"
DIAGRAMS = GENERATED / "diagrams"
MARKER = re.compile(r"<!-- netshop:openapi ([a-z0-9-]+) -->")
OPS_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/_ops")
NOT_FOR_READERS = {"HTTPValidationError", "ValidationError"}
FIX = "run `netshop generate` (or `make generate`) first"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    nav_file = PAGES / "nav.yml"
    if not nav_file.is_file():
        raise PluginError(f"{nav_file.relative_to(REPO)} is missing: {FIX}")
    config.nav = [*(config.nav or []), *yaml.safe_load(nav_file.read_text(encoding="utf-8"))["nav"]]
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages, the diagrams' SVG and DOT files and each service's OpenAPI document."""
    for path in sorted(PAGES.rglob("*.md")):
        files.append(File(path.relative_to(PAGES).as_posix(), str(PAGES), config.site_dir, config.use_directory_urls))
    for path in sorted(DIAGRAMS.glob("*")):
        if path.suffix in {".svg", ".dot"}:
            files.append(File(f"diagrams/{path.name}", str(GENERATED), config.site_dir, config.use_directory_urls))
    for name in sorted(set(MARKER.findall("\n".join(p.read_text(encoding="utf-8") for p in PAGES.rglob("*.md"))))):
        text = json.dumps(openapi(name), indent=2, sort_keys=True) + "\n"
        files.append(File.generated(config, f"openapi/{name}.json", content=text))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    prefix = "../" * page.file.src_uri.count("/")
    return MARKER.sub(lambda m: api_markdown(m.group(1), openapi(m.group(1)), prefix), markdown)


# --------------------------------------------------------------------------- OpenAPI -> Markdown


@cache
def openapi(name: str) -> dict:
    """The OpenAPI document of a service's FastAPI app (imported, never started)."""
    try:
        module = importlib.import_module(f"services.{name.replace('-', '_')}.app")
    except Exception as exc:  # noqa: BLE001 - any import failure is a build error naming the service
        raise PluginError(f"cannot import the app of service {name!r} for its OpenAPI document: {exc}") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # proxies answer every method under one operation id
        return module.app.openapi()


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _type(schema: dict) -> str:
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{ref}](#schema-{_slug(ref)})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(_type(s) for s in schema[key])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    t = schema.get("type")
    if t == "array":
        return "list of " + _type(schema.get("items", {}))
    if t == "object":
        extra = schema.get("additionalProperties")
        return "map of string → " + _type(extra) if isinstance(extra, dict) and extra else "object"
    if "format" in schema:
        return f"{t} ({schema['format']})"
    return t or "any"


def _limits(schema: dict) -> str:
    words = [f"{label} `{schema[k]}`" for k, label in (
        ("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<"),
        ("minLength", "min length"), ("maxLength", "max length"), ("pattern", "pattern"), ("default", "default"),
    ) if k in schema]
    for s in schema.get("anyOf", []):
        words += [w for w in _limits(s).split(", ") if w]
    return ", ".join(words)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _body(op: dict) -> str:
    content = op.get("requestBody", {}).get("content", {})
    parts = [f"{_type(media.get('schema', {}))} ({kind})" for kind, media in sorted(content.items())]
    return "; ".join(parts) or "—"


def api_markdown(name: str, doc: dict, prefix: str) -> str:
    """The operations of a service (ops routes aside) with parameters, body and responses, then its schemas."""
    rows = []
    for path, item in doc.get("paths", {}).items():
        if path.startswith(OPS_PATHS):
            continue
        for method, op in item.items():
            params = [
                f"`{p['name']}` ({p['in']}, {_type(p.get('schema', {}))}{', required' if p.get('required') else ''})"
                for p in op.get("parameters", [])
            ]
            responses = ", ".join(f"`{code}`" for code in op.get("responses", {}))
            rows.append(f"| `{method.upper()} {path}` | {_cell(op.get('summary', ''))} | {_cell('; '.join(params) or '—')} "
                        f"| {_cell(_body(op))} | {responses} |")
    out = [f"### Operations (from the OpenAPI document)\n",
           f"Taken from the `{name}` app's OpenAPI document when the site was built; the whole document is "
           f"[openapi/{name}.json]({prefix}openapi/{name}.json), and a running service serves it at `/openapi.json`.\n"]
    if rows:
        out.append("| Operation | Summary | Parameters | Request body | Responses |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    schemas = {k: v for k, v in doc.get("components", {}).get("schemas", {}).items() if k not in NOT_FOR_READERS}
    if schemas:
        out.append("### Schemas\n")
        for key, schema in schemas.items():
            required = set(schema.get("required", []))
            out.append(f"#### {key} {{ #schema-{_slug(key)} }}\n")
            if schema.get("description"):
                out.append(_cell(schema["description"]) + "\n")
            props = schema.get("properties", {})
            if props:
                out.append("| Field | Type | Required | Limits and default | Meaning |\n|---|---|---|---|---|\n" + "\n".join(
                    f"| `{field}` | {_cell(_type(p))} | {'yes' if field in required else '—'} | {_cell(_limits(p)) or '—'} "
                    f"| {_cell(p.get('description', ''))} |" for field, p in props.items()) + "\n")
            else:
                out.append(f"Type: {_type(schema)}\n")
    return "\n".join(out)
