"""The generated parts of the docs: `python -m scripts.generated_docs [--check]`.

Each is written between two markers from the one source it describes, so it cannot drift:

- `terraform/modules/<module>/README.md`, between `<!-- BEGIN_TF_DOCS -->` and
  `<!-- END_TF_DOCS -->`: the module's requirements (versions.tf), inputs (variables.tf:
  name, description, type, default, required) and outputs (outputs.tf), in the layout
  terraform-docs uses (that tool is not installable everywhere this project runs);
- `docs/http-api.md`, between `<!-- BEGIN_OPENAPI -->` and `<!-- END_OPENAPI -->`: every
  route with its summary, function, API key and statuses, the problem types and the job
  types, from openapi.yaml;
- `docs/security.md`, between `<!-- BEGIN_CHECKOV_SKIPS -->` and `<!-- END_... -->`: every
  checkov skip with its reason, from the inline skips (scripts/checkov_skips.py).

`make docs` writes them; `--check` (in `make lint`, and tests/unit/test_generated_docs.py
in `make test`) fails naming each stale file. The prose around the markers is written
by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hcl2.api import load as load_hcl

from scripts.checkov_skips import inline_skips
from scripts.environments import type_expression, variable_blocks

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULES_DIR = Path("terraform") / "modules"
HTTP_API_DOC = Path("docs") / "http-api.md"
SECURITY_DOC = Path("docs") / "security.md"
OPENAPI = Path("openapi.yaml")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Section:
    """A generated block of `path`, between `<!-- BEGIN_<marker> -->` and `<!-- END_... -->`."""

    path: Path
    marker: str
    render: Callable[[Path], str]

    def begin(self) -> str:
        return f"<!-- BEGIN_{self.marker} -->"

    def end(self) -> str:
        return f"<!-- END_{self.marker} -->"


def _load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(load_hcl(handle))


def _blocks(parsed: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, body) for block in parsed.get(kind, []) for name, body in block.items()]


def _cell(text: str) -> str:
    """One Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _one_line_type(expression: str) -> str:
    """A type as written, on one line: attributes of a multi-line object joined by ", "."""
    lines = [re.sub(r"\s*(#|//).*$", "", line).strip() for line in expression.splitlines()]
    out = ""
    for line in filter(None, lines):
        if out and not out.endswith(("(", "{", "[", ",")) and not line.startswith((")", "}", "]")):
            out += ", "
        out += line
    return out


def _default(value: Any) -> str:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]  # an expression, as Terraform would show it
    return json.dumps(value, ensure_ascii=False)


def _requirements(module: Path) -> list[str]:
    (terraform,) = _load_hcl(module / "versions.tf")["terraform"]
    rows = [f"| terraform | {_cell(terraform['required_version'])} |"]
    for providers in terraform.get("required_providers", []):
        for name, spec in providers.items():
            version = spec["version"]
            aliases = spec.get("configuration_aliases", [])
            if aliases:
                shown = ", ".join(f"`{a.removeprefix('${').removesuffix('}')}`" for a in aliases)
                version += f" (configuration aliases: {shown})"
            rows.append(f"| {name} | {_cell(version)} |")
    return ["## Requirements", "", "| Name | Version |", "|------|---------|", *rows]


def _inputs(module: Path) -> list[str]:
    path = module / "variables.tf"
    types = {name: type_expression(body) for name, body in variable_blocks(path.read_text())}
    rows = []
    for name, spec in _blocks(_load_hcl(path), "variable"):
        required = "default" not in spec
        default = "n/a" if required else f"`{_default(spec['default'])}`"
        rows.append(
            f"| {name} | {_cell(spec.get('description', ''))} | "
            f"`{_cell(_one_line_type(types.get(name, '')) or 'any')}` | {_cell(default)} | "
            f"{'yes' if required else 'no'} |"
        )
    header = ["| Name | Description | Type | Default | Required |"]
    header.append("|------|-------------|------|---------|:--------:|")
    return ["## Inputs", "", *header, *rows]


def _outputs(module: Path) -> list[str]:
    rows = [
        f"| {name} | {_cell(spec.get('description', ''))} |"
        for name, spec in _blocks(_load_hcl(module / "outputs.tf"), "output")
    ]
    return ["## Outputs", "", "| Name | Description |", "|------|-------------|", *rows]


def module_tables(module: Path) -> str:
    """The Requirements, Inputs and Outputs tables of one module."""
    parts = [_requirements(module), _inputs(module), _outputs(module)]
    return "\n\n".join("\n".join(part) for part in parts)


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in HTTP_METHODS
    ]


def http_api_tables(root: Path) -> str:
    """The routes, problem types and job types of openapi.yaml."""
    document = yaml.safe_load((root / OPENAPI).read_text(encoding="utf-8"))
    default_security = document.get("security", [])
    rows = ["| route | what it does | function | API key | statuses |", "|---|---|---|---|---|"]
    for key, spec in _operations(document):
        api_key = "yes" if spec.get("security", default_security) else "no"
        statuses = ", ".join(sorted(spec["responses"]))
        rows.append(
            f"| `{key}` | {_cell(spec['summary'])} | {spec['x-jobs-platform-function']} | "
            f"{api_key} | {statuses} |"
        )
    fallback = document["x-jobs-platform-default-route"]
    rows.append(
        f"| `$default` | {_cell(fallback['description'])} | {fallback['function']} | "
        f"{'yes' if fallback['authorized'] else 'no'} | 404, 405 |"
    )
    problems = ["| status | title | type |", "|---|---|---|"]
    problems += [
        f"| {p['status']} | {_cell(p['title'])} | `{p['type']}` |"
        for p in document["x-jobs-platform-problem-types"]
    ]
    test_only = "only where enable_test_job_types is true (never prod)"
    job_types = ["| type | longest run (s) | where |", "|---|---|---|"]
    job_types += [
        f"| `{name}` | {spec['max_duration_seconds']} | "
        f"{test_only if spec['test_only'] else 'every environment'} |"
        for name, spec in document["x-jobs-platform-job-types"].items()
    ]
    return "\n".join(
        [
            "## Conventions",
            "",
            document["info"]["description"].strip(),
            "",
            "## Routes",
            "",
            *rows,
            "",
            "## Problem types",
            "",
            *problems,
            "",
            "## Job types",
            "",
            *job_types,
        ]
    )


def checkov_skips_table(root: Path) -> str:
    """Every checkov skip: check, file, reason (the reason as written next to it)."""
    rows = ["| check | file | reason |", "|---|---|---|"]
    rows += [f"| `{s.check_id}` | `{s.file}` | {_cell(s.reason)} |" for s in inline_skips(root)]
    return "\n".join(rows)


def _module_renderer(module: Path) -> Callable[[Path], str]:
    def render(_root: Path) -> str:
        return module_tables(module)

    return render


def sections(root: Path = REPO_ROOT) -> list[Section]:
    found = [
        Section(readme, "TF_DOCS", _module_renderer(readme.parent))
        for readme in sorted((root / MODULES_DIR).glob("*/README.md"))
    ]
    found.append(Section(root / HTTP_API_DOC, "OPENAPI", http_api_tables))
    found.append(Section(root / SECURITY_DOC, "CHECKOV_SKIPS", checkov_skips_table))
    return found


def rendered(section: Section, root: Path) -> str:
    """The file's text with the section regenerated."""
    text = section.path.read_text(encoding="utf-8")
    begin, end = text.find(section.begin()), text.find(section.end())
    if begin < 0 or end < begin:
        raise ValueError(f"{section.path}: no {section.begin()} ... {section.end()} block")
    body = section.render(root)
    return f"{text[: begin + len(section.begin())]}\n{body}\n{text[end:]}"


def stale(root: Path = REPO_ROOT) -> list[Path]:
    """The files whose generated sections differ from their sources."""
    return [s.path for s in sections(root) if rendered(s, root) != s.path.read_text("utf-8")]


def write(root: Path = REPO_ROOT) -> list[Path]:
    changed = []
    for section in sections(root):
        text = rendered(section, root)
        if text != section.path.read_text(encoding="utf-8"):
            section.path.write_text(text, encoding="utf-8")
            changed.append(section.path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        for path in outdated:
            print(f"{path.relative_to(REPO_ROOT)}: generated docs are stale: run `make docs`")
        return 1 if outdated else 0
    for path in write():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
