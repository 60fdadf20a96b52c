"""The environments, as data: `python3 -m scripts.environments <command>`.

An environment is a file `environments/<name>.tfvars` (its Terraform variables) plus, for
one deployed to AWS, `environments/<name>.backend.hcl` (its S3 state). Adding `qa` is
adding those two files (and its GitHub environment): every script, test and workflow
takes the list from here.

- `local` is the emulator's (`make local`), never deployed to AWS.
- `dev` is the developers' own environment: deployed from a laptop (`make plan/apply
  ENV=dev`), not by the pipeline and not watched for drift.
- `prod` is production: the pipeline deploys it last, behind the reviewed plan and the
  approval of GitHub environment `prod`.
- Every other environment (`staging`, `qa`, ...) is a pre-production stage: the pipeline
  deploys them (in parallel) before prod.

One name per environment everywhere: Terraform environment `<name>`, file
`environments/<name>.tfvars`, state key `<project>/<name>/terraform.tfstate`, GitHub
environment `<name>`. The one derived name is the repository variable holding the
environment's read-only plan role, `AWS_PLAN_ROLE_ARN_<NAME>` (GitHub variable names are
upper case): see `plan_role_variable`.

Commands (standard library only: the deploy jobs run this before any install):

    list [--pipeline] [--pre-prod]   names, one per line
    github-outputs                   `pre_prod=`, `pipeline=` (job matrices) and `prod=` lines
                                     for $GITHUB_OUTPUT
    get <env> <key>                  a tfvars value (or the variable's default), e.g. region

It also holds the parser of the `.tfvars` / `.backend.hcl` files (HCL attributes whose
values are literals) that the pre-flight (scripts/preflight.py) uses.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS_DIR = "environments"
EMULATOR = "local"
DEVELOPERS = "dev"
PRODUCTION = "prod"
# The pattern of an environment name; variables.tf validates var.environment with the same
# regex (tests/unit/test_environments.py ties the two).
NAME_PATTERN = r"^[a-z][a-z0-9]{1,11}$"


class HclError(ValueError):
    """A .tfvars / .backend.hcl file that is not a list of `name = literal` attributes."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


# ------------------------------------------------------------------ environment list


def tfvars_path(env: str, repo_root: Path = REPO_ROOT) -> Path:
    return repo_root / ENVIRONMENTS_DIR / f"{env}.tfvars"


def backend_path(env: str, repo_root: Path = REPO_ROOT) -> Path:
    return repo_root / ENVIRONMENTS_DIR / f"{env}.backend.hcl"


def all_environments(repo_root: Path = REPO_ROOT) -> list[str]:
    """Every environment with a tfvars file, the emulator's included."""
    return sorted(
        p.name.removesuffix(".tfvars") for p in (repo_root / ENVIRONMENTS_DIR).glob("*.tfvars")
    )


def environments(repo_root: Path = REPO_ROOT) -> list[str]:
    """The environments that are deployed to AWS (all but the emulator's)."""
    return [e for e in all_environments(repo_root) if e != EMULATOR]


def pipeline_environments(repo_root: Path = REPO_ROOT) -> list[str]:
    """What deploy.yml deploys and drift.yml watches: the pre-production stages, then prod."""
    pre = pre_production_environments(repo_root)
    return [*pre, PRODUCTION] if PRODUCTION in environments(repo_root) else pre


def pre_production_environments(repo_root: Path = REPO_ROOT) -> list[str]:
    return [e for e in environments(repo_root) if e not in (DEVELOPERS, PRODUCTION)]


def plan_role_variable(env: str) -> str:
    """The repository variable naming `env`'s read-only plan role (drift, PR and prod plans)."""
    return f"AWS_PLAN_ROLE_ARN_{env.upper()}"


def github_entry(env: str, repo_root: Path = REPO_ROOT) -> dict[str, str]:
    """What a workflow job needs to know about `env` (a matrix entry)."""
    return {
        "env": env,
        "plan_role_var": plan_role_variable(env),
        "region": str(effective_value(env, "region", repo_root)),
    }


# ------------------------------------------------------------------ values


def tfvars(env: str, repo_root: Path = REPO_ROOT) -> dict[str, Attribute]:
    path = tfvars_path(env, repo_root)
    return parse_attributes(path.read_text(encoding="utf-8"), _shown(path, repo_root))


def variable_defaults(repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """Root-module variables -> their literal default (`REQUIRED` when there is none)."""
    found: dict[str, Any] = {}
    for tf in sorted(repo_root.glob("*.tf")):
        found.update(_variable_defaults(tf.read_text(encoding="utf-8"), _shown(tf, repo_root)))
    return found


def attribute_defaults(repo_root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """Root-module variables of an object type -> the literal defaults of their
    `optional(<type>, <default>)` attributes (e.g. memory_mb -> {"api": 512, ...})."""
    found: dict[str, dict[str, Any]] = {}
    for tf in sorted(repo_root.glob("*.tf")):
        text = tf.read_text(encoding="utf-8")
        for name, body in variable_blocks(text):
            optional = _optional_defaults(body, _shown(tf, repo_root))
            if optional:
                found[name] = optional
    return found


def effective_value(env: str, key: str, repo_root: Path = REPO_ROOT) -> Any:
    """The value Terraform uses for `key` in `env`: the tfvars value, else the default; an
    object's missing optional attributes take their defaults, as in Terraform."""
    values = tfvars(env, repo_root)
    if key in values:
        value = values[key].value
    else:
        value = variable_defaults(repo_root).get(key, REQUIRED)
        if value is REQUIRED:
            raise KeyError(f"{key} is neither set in {ENVIRONMENTS_DIR}/{env}.tfvars nor defaulted")
    optional = attribute_defaults(repo_root).get(key)
    if optional and isinstance(value, dict):
        return {**optional, **value}
    return value


def _shown(path: Path, repo_root: Path) -> str:
    return path.relative_to(repo_root).as_posix() if path.is_relative_to(repo_root) else str(path)


# ------------------------------------------------------------------ the HCL literal parser


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Any
    line: int


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+|\\\n)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<heredoc><<-?(?P<marker>[A-Za-z_][A-Za-z0-9_]*)\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<punct>[=:,\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass
class _Token:
    kind: str
    text: str
    line: int


def _next_token(text: str, pos: int, line: int, path: str) -> tuple[_Token, int, int]:
    """The token at `pos` (blanks and comments skipped): (token, next pos, next line)."""
    while True:
        if pos >= len(text):
            return _Token("eof", "", line), pos, line
        m = _TOKEN.match(text, pos)
        if m is None:
            raise HclError(path, line, f"unexpected {text[pos]!r}: only literal values are allowed")
        kind = m.lastgroup or ""
        if kind in ("heredoc", "marker"):
            marker, indented = m.group("marker"), m.group(0).startswith("<<-")
            end = re.compile(rf"^[ \t]*{re.escape(marker)}[ \t]*$", re.MULTILINE)
            close = end.search(text, m.end())
            if close is None:
                raise HclError(path, line, f"heredoc <<{marker} is never closed")
            body = text[m.end() : close.start()]
            if indented:
                lines = body.split("\n")
                indent = min((len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()), default=0)
                body = "\n".join(x[indent:] for x in lines)
            token = _Token("heredoc", body, line)
            return token, close.end(), line + text.count("\n", m.start(), close.end())
        next_line = line + m.group(0).count("\n")
        if kind not in ("ws", "comment"):
            return _Token(kind, m.group(0), line), m.end(), next_line
        pos, line = m.end(), next_line


class _Parser:
    """Reads tokens on demand, so a literal can be read from the middle of a .tf file."""

    def __init__(self, text: str, path: str) -> None:
        self.path, self.text = path, text
        self.pos, self.line = 0, 1
        self.lookahead: _Token | None = None

    def peek(self) -> _Token:
        if self.lookahead is None:
            self.lookahead, self.pos, self.line = _next_token(
                self.text, self.pos, self.line, self.path
            )
        return self.lookahead

    def take(self) -> _Token:
        token = self.peek()
        self.lookahead = None
        return token

    def skip_newlines(self) -> None:
        while self.peek().kind == "newline":
            self.take()

    def fail(self, token: _Token, message: str) -> HclError:
        return HclError(self.path, token.line, message)

    def attributes(self) -> dict[str, Attribute]:
        found: dict[str, Attribute] = {}
        while True:
            self.skip_newlines()
            token = self.take()
            if token.kind == "eof":
                return found
            if token.kind != "ident":
                raise self.fail(token, f"expected `name = value`, found {token.text!r}")
            eq = self.take()
            if eq.text != "=":
                raise self.fail(eq, f"expected `=` after {token.text}: blocks are not allowed here")
            value = self.value()
            if token.text in found:
                raise self.fail(
                    token, f"{token.text} is set twice (first on line {found[token.text].line})"
                )
            found[token.text] = Attribute(token.text, value, token.line)
            end = self.take()
            if end.kind not in ("newline", "eof"):
                raise self.fail(end, f"expected a new line after {token.text}, found {end.text!r}")
            if end.kind == "eof":
                return found

    def value(self) -> Any:
        self.skip_newlines()
        token = self.take()
        if token.kind == "string":
            return self.string(token)
        if token.kind == "heredoc":
            if "${" in token.text or "%{" in token.text:
                raise self.fail(token, "templates are not allowed here: write a literal string")
            return token.text
        if token.kind == "number":
            number = float(token.text)
            return (
                int(number)
                if number.is_integer() and re.fullmatch(r"-?[0-9]+", token.text)
                else number
            )
        if token.kind == "ident" and token.text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.text]
        if token.text == "[":
            return self.sequence()
        if token.text == "{":
            return self.mapping()
        raise self.fail(
            token, f"{token.text!r} is not a literal value (expressions are not allowed)"
        )

    def string(self, token: _Token) -> str:
        body = token.text[1:-1]
        if "${" in body.replace("$${", "") or "%{" in body.replace("%%{", ""):
            raise self.fail(token, "templates are not allowed here: write a literal string")
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\":
                nxt = body[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    i += 2
                elif nxt == "u":
                    out.append(chr(int(body[i + 2 : i + 6], 16)))
                    i += 6
                elif nxt == "U":
                    out.append(chr(int(body[i + 2 : i + 10], 16)))
                    i += 10
                else:
                    raise self.fail(token, f"unknown escape \\{nxt}")
            else:
                out.append(ch)
                i += 1
        return "".join(out).replace("$${", "${").replace("%%{", "%{")

    def sequence(self) -> list[Any]:
        items: list[Any] = []
        while True:
            self.skip_newlines()
            if self.peek().text == "]":
                self.take()
                return items
            items.append(self.value())
            self.skip_newlines()
            token = self.take()
            if token.text == "]":
                return items
            if token.text != ",":
                raise self.fail(token, f"expected `,` or `]` in a list, found {token.text!r}")

    def mapping(self) -> dict[str, Any]:
        items: dict[str, Any] = {}
        while True:
            self.skip_newlines()
            token = self.take()
            if token.text == "}":
                return items
            if token.kind == "ident":
                key = token.text
            elif token.kind == "string":
                key = self.string(token)
            else:
                raise self.fail(token, f"expected a key in an object, found {token.text!r}")
            sep = self.take()
            if sep.text not in ("=", ":"):
                raise self.fail(sep, f"expected `=` after {key}, found {sep.text!r}")
            items[key] = self.value()
            token = self.peek()
            if token.text == ",":
                self.take()
            elif token.kind != "newline" and token.text != "}":
                raise self.fail(token, f"expected `,`, a new line or `}}`, found {token.text!r}")


def parse_attributes(text: str, path: str = "<text>") -> dict[str, Attribute]:
    """The `name = literal` attributes of a .tfvars or .backend.hcl file, with their lines."""
    return _Parser(text, path).attributes()


_VARIABLE = re.compile(r'^variable\s+"([^"]+)"\s*\{', re.MULTILINE)
_DEFAULT = re.compile(r"^\s*default\s*=\s*", re.MULTILINE)


def _block_end(text: str, start: int) -> int:
    """Index just after the `}` closing the block whose `{` is at `start`."""
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "#" or text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                return len(text)
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def variable_blocks(text: str) -> list[tuple[str, str]]:
    """(name, body from its `{`) of every `variable` block."""
    blocks = []
    for m in _VARIABLE.finditer(text):
        body_start = m.end() - 1
        blocks.append((m.group(1), text[body_start : _block_end(text, body_start)]))
    return blocks


_TYPE = re.compile(r"^\s*type\s*=\s*", re.MULTILINE)
# `name = optional(<simple type>, ` inside an object type; the default literal follows.
_OPTIONAL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*optional\(\s*[a-z]+\s*,\s*")


def type_expression(body: str) -> str:
    """The variable's `type = ...` expression (to the end of its line, or of the brackets
    opened on it)."""
    for m in _TYPE.finditer(body):
        if _depth_at(body, m.start()) != 1:
            continue
        depth, i = 0, m.end()
        while i < len(body):
            ch = body[i]
            if ch == '"':
                i += 1
                while body[i] != '"':
                    i += 2 if body[i] == "\\" else 1
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth < 0:
                    break
            elif ch == "\n" and depth == 0:
                break
            i += 1
        return body[m.end() : i]
    return ""


def _optional_defaults(body: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    expression = type_expression(body)
    for m in _OPTIONAL.finditer(expression):
        try:
            found[m.group(1)] = _Parser(expression[m.end() :], path).value()
        except HclError:
            continue  # not a literal: Terraform still has one, we cannot say
    return found


def _variable_defaults(text: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, body in variable_blocks(text):
        default: Any = REQUIRED
        for d in _DEFAULT.finditer(body):
            if _depth_at(body, d.start()) != 1:
                continue  # a `default` inside a nested block (e.g. optional(...) objects)
            parser = _Parser(body[d.end() :], path)
            try:
                default = parser.value()
            except HclError:
                default = REQUIRED  # not a literal: Terraform still has one, we cannot say
            break
        found[name] = default
    return found


def _depth_at(text: str, pos: int) -> int:
    depth, i = 0, 0
    while i < pos:
        ch = text[i]
        if ch == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        i += 1
    return depth


# ------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="environment names, one per line")
    listing.add_argument("--pipeline", action="store_true", help="only what the pipeline deploys")
    listing.add_argument("--pre-prod", action="store_true", help="only the stages before prod")
    commands.add_parser("github-outputs", help="pipeline/prod matrices for $GITHUB_OUTPUT")
    get = commands.add_parser("get", help="the value Terraform uses for a variable in an env")
    get.add_argument("env")
    get.add_argument("key")
    args = parser.parse_args(argv)

    if args.command == "list":
        if args.pre_prod:
            names = pre_production_environments()
        elif args.pipeline:
            names = pipeline_environments()
        else:
            names = environments()
        print("\n".join(names))
    elif args.command == "github-outputs":
        pre = pre_production_environments()
        if not pre or PRODUCTION not in environments():
            print(
                f"error: the pipeline needs {ENVIRONMENTS_DIR}/{PRODUCTION}.tfvars and at least "
                f"one stage before it (e.g. {ENVIRONMENTS_DIR}/staging.tfvars)",
                file=sys.stderr,
            )
            return 1
        for name, stages in (("pre_prod", pre), ("pipeline", pipeline_environments())):
            matrix = {"include": [github_entry(e) for e in stages]}
            print(f"{name}=" + json.dumps(matrix, separators=(",", ":")))
        print("prod=" + json.dumps(github_entry(PRODUCTION), separators=(",", ":")))
    else:
        if args.env not in all_environments():
            print(f"error: no {ENVIRONMENTS_DIR}/{args.env}.tfvars", file=sys.stderr)
            return 2
        try:
            value = effective_value(args.env, args.key)
        except KeyError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 1
        print(value if isinstance(value, str) else json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
