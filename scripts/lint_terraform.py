"""Terraform conventions, checked where tflint would: `python -m scripts.lint_terraform`.

tflint and terraform-docs are not installable everywhere this project runs (their
binaries come from GitHub releases), so `make lint` covers what their `terraform` ruleset
checks cheaply, on the root module and every module under terraform/modules/:

- naming: variables, outputs, locals, resources, data sources and module calls are
  snake_case (tflint `terraform_naming_convention`);
- documented and typed: every variable has a description and a type, every output a
  description (`terraform_documented_variables`, `_typed_variables`, `_documented_outputs`);
- no unused declarations: every variable, local and data source is referenced in its
  module (`terraform_unused_declarations`);
- versions: a `required_version` and, for each required provider, a source and a version
  (`terraform_required_version`, `terraform_required_providers`);
- standard module structure: a module has main.tf, variables.tf, outputs.tf, versions.tf
  and README.md, and declares variables only in variables.tf and outputs only in
  outputs.tf (`terraform_standard_module_structure`);
- no interpolation-only expressions (`"${var.x}"`, `terraform_deprecated_interpolation`)
  and `#` comments only (`terraform_comment_syntax`).

Each finding is one line `path:line: rule: message`; the exit status is 1 when there is any.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hcl2.api import load as load_hcl

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
# A whole attribute value that is only an interpolation: `= "${var.x}"`.
INTERPOLATION_ONLY = re.compile(r'=\s*"\$\{([^{}"]+)\}"\s*$')


@dataclass(frozen=True, order=True)
class Finding:
    path: Path
    line: int
    rule: str
    message: str

    def show(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}: {self.rule}: {self.message}"


def strip_comments(text: str) -> str:
    """The text with `#`, `//` and `/* */` comments blanked (strings kept; lines kept)."""
    out, i, in_string = [], 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
            out.append("\n" * text.count("\n", i, end))
            i = end
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@dataclass
class Module:
    """One Terraform module directory: its .tf files as text and as data."""

    path: Path
    texts: dict[Path, str]
    parsed: dict[Path, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Module:
        texts = {tf: tf.read_text(encoding="utf-8") for tf in sorted(path.glob("*.tf"))}
        parsed = {}
        for tf in texts:
            with tf.open(encoding="utf-8") as handle:
                parsed[tf] = dict(load_hcl(handle))
        return cls(path, texts, parsed)

    def code(self) -> str:
        return "\n".join(strip_comments(text) for text in self.texts.values())

    def declarations(self, kind: str) -> list[tuple[Path, str, dict[str, Any]]]:
        """(file, name, body) of every `variable`/`output`/`module` block, every local, and
        every `resource`/`data` as `<type>.<name>`."""
        found = []
        for tf, parsed in self.parsed.items():
            for block in parsed.get(kind, []):
                for name, body in block.items():
                    if kind in ("resource", "data"):
                        found += [(tf, f"{name}.{inner}", b) for inner, b in body.items()]
                    else:
                        found.append((tf, name, body if isinstance(body, dict) else {}))
        return found

    def line_of(self, tf: Path, pattern: str) -> int:
        found = re.search(pattern, self.texts[tf], re.MULTILINE)
        return self.texts[tf].count("\n", 0, found.start()) + 1 if found else 1


_DECLARATION = {
    "variable": r'^variable\s+"{name}"',
    "output": r'^output\s+"{name}"',
    "module": r'^module\s+"{name}"',
    "locals": r"^\s*{name}\s*=",
}


def _where(module: Module, tf: Path, kind: str, name: str) -> int:
    if kind in ("resource", "data"):
        type_, inner = name.split(".", 1)
        return module.line_of(tf, rf'^{kind}\s+"{re.escape(type_)}"\s+"{re.escape(inner)}"')
    return module.line_of(tf, _DECLARATION[kind].format(name=re.escape(name)))


def check_naming(module: Module) -> list[Finding]:
    findings = []
    for kind in ("variable", "output", "locals", "module", "resource", "data"):
        for tf, name, _ in module.declarations(kind):
            short = name.split(".", 1)[1] if kind in ("resource", "data") else name
            if not SNAKE_CASE.match(short):
                findings.append(
                    Finding(
                        tf,
                        _where(module, tf, kind, name),
                        "naming",
                        f"{kind} {name!r} is not snake_case",
                    )
                )
    return findings


def check_documented(module: Module) -> list[Finding]:
    findings = []
    for tf, name, body in module.declarations("variable"):
        line = _where(module, tf, "variable", name)
        if not str(body.get("description", "")).strip():
            findings.append(
                Finding(tf, line, "documented", f"variable {name!r} has no description")
            )
        if "type" not in body:
            findings.append(Finding(tf, line, "typed", f"variable {name!r} has no type"))
    for tf, name, body in module.declarations("output"):
        if not str(body.get("description", "")).strip():
            line = _where(module, tf, "output", name)
            findings.append(Finding(tf, line, "documented", f"output {name!r} has no description"))
    return findings


def check_unused(module: Module) -> list[Finding]:
    code = module.code()
    findings = []
    # How each kind of declaration is referenced: var.<name>, local.<name>, data.<type>.<name>.
    prefixes = {"variable": "var", "locals": "local", "data": "data"}
    for kind, prefix in prefixes.items():
        for tf, name, _ in module.declarations(kind):
            if not re.search(rf"\b{prefix}\.{re.escape(name)}\b", code):
                label = {"locals": "local", "data": "data source"}.get(kind, kind)
                findings.append(
                    Finding(
                        tf,
                        _where(module, tf, kind, name),
                        "unused",
                        f"{label} {name!r} is never used",
                    )
                )
    return findings


def check_versions(module: Module) -> list[Finding]:
    blocks = [
        (tf, block) for tf, parsed in module.parsed.items() for block in parsed.get("terraform", [])
    ]
    where = module.path / "versions.tf"
    if not any("required_version" in block for _, block in blocks):
        return [Finding(where, 1, "versions", "no terraform required_version")]
    findings = []
    for tf, block in blocks:
        for providers in block.get("required_providers", []):
            for name, spec in providers.items():
                if not isinstance(spec, dict) or not {"source", "version"} <= spec.keys():
                    line = module.line_of(tf, rf"^\s*{re.escape(name)}\s*=")
                    findings.append(
                        Finding(
                            tf, line, "versions", f"provider {name!r} needs a source and a version"
                        )
                    )
    return findings


def check_structure(module: Module, *, child: bool) -> list[Finding]:
    findings = []
    if child:
        for name in MODULE_FILES:
            if not (module.path / name).is_file():
                findings.append(
                    Finding(module.path / name, 1, "structure", f"module has no {name}")
                )
    for kind, home in (("variable", "variables.tf"), ("output", "outputs.tf")):
        for tf, name, _ in module.declarations(kind):
            if tf.name != home:
                line = _where(module, tf, kind, name)
                findings.append(
                    Finding(tf, line, "structure", f"{kind} {name!r} belongs in {home}")
                )
    return findings


def check_syntax(module: Module) -> list[Finding]:
    findings = []
    for tf, text in module.texts.items():
        code_lines = strip_comments(text).splitlines()
        for number, line in enumerate(text.splitlines(), start=1):
            code = code_lines[number - 1] if number <= len(code_lines) else ""
            if line.lstrip().startswith("//"):
                findings.append(Finding(tf, number, "comment-syntax", "use # comments, not //"))
            found = INTERPOLATION_ONLY.search(code)
            if found:
                findings.append(
                    Finding(tf, number, "interpolation", f'write {found.group(1)} without "${{}}"')
                )
    return findings


def lint_module(path: Path, *, child: bool) -> list[Finding]:
    module = Module.load(path)
    return sorted(
        [
            *check_naming(module),
            *check_documented(module),
            *check_unused(module),
            *check_versions(module),
            *check_structure(module, child=child),
            *check_syntax(module),
        ]
    )


def lint(root: Path = REPO_ROOT) -> list[Finding]:
    findings = lint_module(root, child=False)
    for path in sorted((root / "terraform" / "modules").iterdir()):
        if path.is_dir():
            findings += lint_module(path, child=True)
    return findings


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]).resolve() if argv else REPO_ROOT
    findings = lint(root)
    for finding in findings:
        print(finding.show(root))
    modules = 1 + sum(1 for p in (root / "terraform" / "modules").iterdir() if p.is_dir())
    print(f"lint-terraform: {len(findings)} finding(s) in {modules} modules", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
