"""Config pre-flight: `python3 -m scripts.preflight <env>... [--offline]`.

Runs before every plan (`make plan`, the offline plans, the deploy jobs before they assume
a role): no terraform, no AWS credentials, standard library only, well under a second. It
catches the cheap mistakes Terraform lets through or reports late, each with the file,
the key and the fix:

- a key in `environments/<env>.tfvars` that is no variable of the root module (Terraform
  only warns, then silently uses the default), or an `environment` that is not the file's;
- `<...>` placeholders left in the tfvars or the backend file (`make backend-config`
  writes the backend file from the bootstrap stack's outputs);
- `example.com` (RFC 2606) addresses in any environment but `dev`: nobody gets the alarms;
- prod below its minimums: log retention >= 90 days, deletion protection, the edge (also
  variable validations in variables.tf, which need a plan). Point-in-time recovery has no
  variable: every table has it (the table module's default, checkov's CKV_JP_3), so a
  line trying to turn it off is an unknown key;
- a backend file whose state key or locking is not the layout the bootstrap roles allow
  (they may only write `<project>/<env>/`; docs/deploying.md step 2);
- Lambda artifacts missing (run `make package`) or built from other `lambdas/` sources
  than the checkout's (`dist/artifacts.sources.json`, written by `make package`).

`--offline` (the offline plans of `make lint`/`make test`, which use no real backend):
placeholders and example.com addresses are reported as warnings, and the backend file is
not checked, so the blueprint's own files plan while still saying what a deploy needs.
Exit status: 0 when nothing is wrong, 1 with every problem listed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts import environments as envs
from scripts.package import SOURCES_MANIFEST, source_inputs

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARTIFACTS = Path("dist") / "artifacts.tfvars.json"
PLACEHOLDER = re.compile(r"<[^<>\n]+>")
EXAMPLE_ADDRESS = re.compile(r"\bexample\.(?:com|org|net)\b", re.IGNORECASE)
BACKEND_REQUIRED = ("bucket", "key", "region", "encrypt", "kms_key_id", "use_lockfile")
# Environments whose alarms may go nowhere: the emulator and the developers' own.
EXAMPLE_ADDRESSES_ALLOWED = (envs.EMULATOR, envs.DEVELOPERS)


@dataclass(frozen=True)
class Minimum:
    """A prod minimum: what the value must satisfy, and the line that fixes it."""

    requirement: str
    holds: Callable[[Any], bool]
    fix: str


# Each is also a validation of the variable in variables.tf (tests/terraform/root_module
# has one `rejects_prod_...` run per key; tests/unit/test_preflight.py ties the two lists).
PROD_MINIMUMS: dict[str, Minimum] = {
    "log_retention_days": Minimum(
        "prod keeps logs at least 90 days",
        lambda v: isinstance(v, int | float) and v >= 90,
        "log_retention_days = 90",
    ),
    "deletion_protection": Minimum(
        "prod tables are deletion-protected",
        lambda v: v is True,
        "deletion_protection = true",
    ),
    "enable_edge": Minimum(
        "prod serves through CloudFront + WAF",
        lambda v: v is True,
        "enable_edge = true",
    ),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int | None
    key: str | None
    problem: str
    fix: str
    error: bool = True

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = f"{self.key}: {self.problem}" if self.key else self.problem
        kind = "error  " if self.error else "warning"
        return f"  {kind} {where}: {what}\n          fix: {self.fix}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)


def _rel(path: Path, repo_root: Path) -> str:
    return path.relative_to(repo_root).as_posix() if path.is_relative_to(repo_root) else str(path)


def check_tfvars(env: str, repo_root: Path, offline: bool) -> list[Finding]:
    path = envs.tfvars_path(env, repo_root)
    shown = _rel(path, repo_root)
    if not path.is_file():
        return [
            Finding(
                shown,
                None,
                None,
                f"no such file: environment {env!r} does not exist",
                f"use one of {envs.environments(repo_root)}, or add {shown} (copy "
                f"environments/staging.tfvars) and environments/{env}.backend.hcl",
            )
        ]
    try:
        attrs = envs.tfvars(env, repo_root)
    except envs.HclError as exc:
        return [Finding(exc.path, exc.line, None, exc.message, "write `name = value` literals")]
    defaults = envs.variable_defaults(repo_root)
    found: list[Finding] = []

    if not re.fullmatch(envs.NAME_PATTERN, env):
        found.append(
            Finding(
                shown,
                None,
                None,
                f"{env!r} cannot name an environment (pattern {envs.NAME_PATTERN})",
                "rename the file: 2-12 lowercase letters or digits, starting with a letter",
            )
        )
    set_env = attrs.get("environment")
    if set_env is None or set_env.value != env:
        found.append(
            Finding(
                shown,
                set_env.line if set_env else None,
                "environment",
                f"is {set_env.value!r}, but the file is {env}.tfvars" if set_env else "is not set",
                f'environment = "{env}" (one name per environment: file, Terraform, state, GitHub)',
            )
        )

    for name, attr in attrs.items():
        if name not in defaults:
            close = difflib.get_close_matches(name, defaults, n=1, cutoff=0.8)
            found.append(
                Finding(
                    shown,
                    attr.line,
                    name,
                    "is not a variable of the root module (variables.tf): Terraform would "
                    "only warn and use the default" + (f" of {close[0]}" if close else ""),
                    f"rename it to {close[0]}"
                    if close
                    else "remove it, or declare it in variables.tf",
                )
            )
        elif name == "lambda_artifacts":
            found.append(
                Finding(
                    shown,
                    attr.line,
                    name,
                    "is not configuration: it names one build's zips",
                    "remove it: `make package` writes dist/artifacts.tfvars.json, which "
                    "Terraform reads",
                )
            )

    for name, attr in attrs.items():
        for text in _strings(attr.value):
            for m in PLACEHOLDER.finditer(text):
                found.append(
                    Finding(
                        shown,
                        attr.line,
                        name,
                        f"holds the placeholder {m.group(0)}",
                        f"replace {m.group(0)} with the real value",
                        error=not offline,
                    )
                )
            if env not in EXAMPLE_ADDRESSES_ALLOWED and EXAMPLE_ADDRESS.search(text):
                found.append(
                    Finding(
                        shown,
                        attr.line,
                        name,
                        f"{text!r} is an example.com address: nobody would receive these "
                        "notifications",
                        "replace it with the team's distribution list (each address confirms "
                        "its SNS subscription once)",
                        error=not offline,
                    )
                )

    if env == envs.PRODUCTION:
        for name, minimum in PROD_MINIMUMS.items():
            given = attrs.get(name)
            value = given.value if given else defaults.get(name)
            if not minimum.holds(value):
                source = "" if given else " (the default in variables.tf: the file does not set it)"
                found.append(
                    Finding(
                        shown,
                        given.line if given else None,
                        name,
                        f"is {json.dumps(value)}{source}: {minimum.requirement}",
                        f"set {minimum.fix} in {shown}",
                    )
                )
    return found


def check_backend(env: str, repo_root: Path, offline: bool) -> list[Finding]:
    path = envs.backend_path(env, repo_root)
    shown = _rel(path, repo_root)
    fix_all = (
        f"make backend-config ENV={env} STACK=<bootstrap stack> (writes it from the stack's "
        "outputs; docs/deploying.md step 2)"
    )
    if not path.is_file():
        if offline:
            return []
        return [
            Finding(
                shown, None, None, "no such file: the environment has no state backend", fix_all
            )
        ]
    try:
        attrs = envs.parse_attributes(path.read_text(encoding="utf-8"), shown)
    except envs.HclError as exc:
        return [Finding(exc.path, exc.line, None, exc.message, fix_all)]
    found: list[Finding] = []
    for name in BACKEND_REQUIRED:
        if name not in attrs and not offline:
            found.append(Finding(shown, None, name, "is not set", fix_all))
    for name, attr in attrs.items():
        for text in _strings(attr.value):
            for m in PLACEHOLDER.finditer(text):
                found.append(
                    Finding(
                        shown,
                        attr.line,
                        name,
                        f"holds the placeholder {m.group(0)}",
                        fix_all,
                        error=not offline,
                    )
                )
    project = _project(env, repo_root)
    want_key = f"{project}/{env}/terraform.tfstate"
    key = attrs.get("key")
    if key is not None and key.value != want_key:
        found.append(
            Finding(
                shown,
                key.line,
                "key",
                f"is {key.value!r}: the deploy roles may only write state under {project}/{env}/",
                f'key = "{want_key}"',
            )
        )
    for name in ("use_lockfile", "encrypt"):
        given = attrs.get(name)
        if given is not None and given.value is not True:
            found.append(
                Finding(
                    shown,
                    given.line,
                    name,
                    f"is {json.dumps(given.value)}: state must be "
                    + ("locked (S3 lock file)" if name == "use_lockfile" else "encrypted"),
                    f"{name} = true",
                )
            )
    return found


def _project(env: str, repo_root: Path) -> str:
    try:
        return str(envs.effective_value(env, "project", repo_root))
    except (KeyError, envs.HclError, OSError):
        return "jobs-platform"


def check_artifacts(repo_root: Path, artifacts: Path) -> list[Finding]:
    path = artifacts if artifacts.is_absolute() else repo_root / artifacts
    shown = _rel(path, repo_root)
    if not path.is_file():
        return [
            Finding(
                shown,
                None,
                "lambda_artifacts",
                "no Lambda artifacts",
                "run `make package` (CI downloads them from the build job)",
            )
        ]
    manifest = path.parent / SOURCES_MANIFEST
    try:
        built_from: dict[str, str] = json.loads(manifest.read_text(encoding="utf-8"))["built_from"]
    except (OSError, ValueError, KeyError):
        return [
            Finding(
                _rel(manifest, repo_root),
                None,
                "lambda_artifacts",
                "cannot tell which lambdas/ sources the artifacts were built from",
                "run `make package`",
            )
        ]
    current = source_inputs(repo_root)
    changed = sorted(
        name for name in set(built_from) | set(current) if built_from.get(name) != current.get(name)
    )
    if not changed:
        return []
    listed = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return [
        Finding(
            shown,
            None,
            "lambda_artifacts",
            f"are stale: built from other sources than this checkout's ({listed} changed "
            "since `make package`); a plan would deploy the old code",
            "run `make package`",
        )
    ]


def preflight(
    env: str,
    repo_root: Path = REPO_ROOT,
    *,
    offline: bool = False,
    artifacts: Path = DEFAULT_ARTIFACTS,
) -> list[Finding]:
    """Every problem of `env`'s configuration (errors and warnings)."""
    if env == envs.EMULATOR:
        return [
            Finding(
                f"{envs.ENVIRONMENTS_DIR}/{env}.tfvars",
                None,
                None,
                "'local' runs against the emulator, never AWS",
                "use `make local`",
            )
        ]
    found = check_tfvars(env, repo_root, offline)
    if envs.tfvars_path(env, repo_root).is_file():
        found += check_backend(env, repo_root, offline)
    found += check_artifacts(repo_root, artifacts)
    return found


def report(env: str, findings: list[Finding], seconds: float) -> str:
    errors = [f for f in findings if f.error]
    warnings = [f for f in findings if not f.error]
    if not findings:
        return f"preflight {env}: ok ({seconds:.2f} s)"
    head = f"preflight {env}: {len(errors)} error(s), {len(warnings)} warning(s)"
    return "\n".join([head, *(str(f) for f in errors + warnings)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environments", nargs="+", metavar="env")
    parser.add_argument("--offline", action="store_true", help="for the offline plans")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    args = parser.parse_args(argv)
    failed = False
    for env in args.environments:
        start = time.monotonic()
        findings = preflight(env, REPO_ROOT, offline=args.offline, artifacts=args.artifacts)
        print(
            report(env, findings, time.monotonic() - start),
            file=sys.stderr if findings else sys.stdout,
        )
        failed = failed or any(f.error for f in findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
