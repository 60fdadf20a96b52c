"""Build deterministic Lambda zips: `python -m scripts.package`.

Each module in `lambdas/jobs_platform/handlers/` is one function. Its zip holds only the
package modules the handler imports (transitively, found by reading the imports), plus
the Lambda-platform wheels (manylinux aarch64, the Lambda runtime's CPython) of the
functions' dependencies those modules import. boto3/botocore are never vendored: the
Lambda runtime provides them. So a change to one handler changes only the zips that
contain it.

Bytecode: every .py in the zip ships with its `__pycache__/<name>.cpython-312.pyc`,
compiled by a Python 3.12 (the Lambda runtime's version; the magic number must match)
with unchecked-hash invalidation: Lambda's /var/task is read-only, so without it every cold
start compiles pydantic and our modules from source (`make bench`: about a third of the
cold start), and an unchecked-hash pyc is used without even hashing the source. Without
a Python 3.12 on this machine the zips ship sources only, and the build says so.

Determinism: entries sorted, fixed timestamps and permissions, fixed compression, exact
pins in pyproject.toml, and bytecode compiled in one fresh interpreter with a fixed hash
seed, in sorted order; the same sources and the same Python 3.12.x give byte-identical
zips.

Writes `dist/lambda/<function>.zip`, `dist/artifacts.tfvars.json` (the Terraform
variable `lambda_artifacts`, which the root module reads by default) and
`dist/artifacts.sources.json` (the sha256 of every input the zips were built from: the
pre-flight refuses to plan when `lambdas/` changed since), and prints each zip's size and
sha256 and how long the build took.
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOT = REPO_ROOT / "lambdas"
PACKAGE = "jobs_platform"
HANDLERS_PACKAGE = f"{PACKAGE}.handlers"

# The Lambda platform the zips target (docs/architecture.md: python3.12 on arm64).
LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64")

# Provided by the Lambda runtime: never vendored.
PROVIDED_BY_LAMBDA = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3"})

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16


@dataclass(frozen=True)
class Artifact:
    function: str
    path: Path
    sha256_hex: str
    sha256_base64: str
    size: int


def handler_functions() -> list[str]:
    """Every module in the handlers package is a function (api, authorizer, worker, bookkeeper)."""
    handlers_dir = SOURCE_ROOT / PACKAGE / "handlers"
    return sorted(p.stem for p in handlers_dir.glob("*.py") if p.stem != "__init__")


def module_path(module: str) -> Path | None:
    base = SOURCE_ROOT.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _is_type_checking_guard(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _executed_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run (incl. lazy ones in functions), not typing-only ones."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking_guard(node):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _imports_of(module: str, path: Path) -> set[str]:
    """Absolute module names imported by `module` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in _executed_imports(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        else:
            if node.level:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            names.add(base)
            # `from pkg import mod` may import a submodule.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def module_closure(entry: str) -> tuple[set[str], set[str]]:
    """(package modules, third-party top-level names) reachable from `entry`."""
    own: set[str] = set()
    third_party: set[str] = set()
    pending = [entry]
    while pending:
        module = pending.pop()
        if module in own:
            continue
        path = module_path(module)
        if path is None:
            continue
        own.add(module)
        # Importing a submodule runs its parents' __init__ first.
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        for name in _imports_of(module, path):
            top = name.split(".")[0]
            if top == PACKAGE:
                pending.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return own, third_party


LAMBDA_LOCK = REPO_ROOT / "requirements" / "lambda.lock"


def function_requirements() -> dict[str, str]:
    """The functions' dependencies (pyproject's [project] dependencies, vendored into the
    zips): top-level import name -> pinned requirement."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements: dict[str, str] = {}
    for requirement in pyproject["project"]["dependencies"]:
        name = requirement.split("==")[0].strip()
        if "==" not in requirement:
            raise SystemExit(f"error: function dependency {requirement!r} must be pinned with ==")
        requirements[name.replace("-", "_").lower()] = requirement
    return requirements


def locked_distributions(requirement: str) -> list[str]:
    """The exact pins (the requirement and its dependencies) from requirements/lambda.lock.

    Each lock line is `name==version  # via <top-level requirement>[, ...]`, so a rebuild
    never picks up a newer transitive dependency.
    """
    top = requirement.split("==")[0].strip().lower()
    pins = []
    for line in LAMBDA_LOCK.read_text(encoding="utf-8").splitlines():
        pin, _, comment = line.partition("#")
        pin = pin.strip()
        if not pin:
            continue
        via = {v.strip().lower() for v in comment.removeprefix(" via").split(",")}
        if pin.lower() == requirement.lower() or top in via:
            pins.append(pin)
    if requirement not in pins:
        raise SystemExit(f"error: {requirement} is not in {LAMBDA_LOCK.name}: update the lock")
    return pins


def download_wheels(requirement: str, cache: Path) -> list[Path]:
    """Lambda-platform wheels of `requirement` and its locked dependencies (cached)."""
    wheels = []
    for pin in locked_distributions(requirement):
        target = cache / pin.replace("==", "-")
        stamp = target / ".complete"
        if not stamp.exists():
            target.mkdir(parents=True, exist_ok=True)
            command = [
                sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--no-deps", "--only-binary=:all:", "--implementation", "cp",
                "--python-version", LAMBDA_PYTHON_VERSION, "--dest", str(target), pin,
            ]  # fmt: skip
            for platform in LAMBDA_PLATFORMS:
                command[4:4] = ["--platform", platform]
            print(f"  downloading the Lambda-platform wheel of {pin} ...", flush=True)
            subprocess.run(command, check=True)
            stamp.touch()
        found = sorted(target.glob("*.whl"))
        if len(found) != 1:
            raise SystemExit(f"error: expected one wheel for {pin} in {target}, found {found}")
        wheels.extend(found)
    leaked = [w.name for w in wheels if w.name.split("-")[0].lower() in PROVIDED_BY_LAMBDA]
    if leaked:
        raise SystemExit(f"error: packages the Lambda runtime provides would be vendored: {leaked}")
    return wheels


def _zip_entries(modules: set[str], wheels: list[Path]) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    for module in modules:
        path = module_path(module)
        assert path is not None
        entries[path.relative_to(SOURCE_ROOT).as_posix()] = path.read_bytes()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.is_dir() or "__pycache__" in info.filename:
                    continue
                entries[info.filename] = archive.read(info)
    return entries


# Run by the Lambda-version interpreter: compiles each listed file to its cfile. Sorted
# input, one process, PYTHONHASHSEED=0: marshal output is then the same on every build.
_COMPILE = """
import json, py_compile, sys
for source, cfile, dfile in json.load(sys.stdin):
    py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def lambda_python() -> str | None:
    """An interpreter of the Lambda runtime's version (its pyc magic number), or None."""
    wanted = tuple(int(part) for part in LAMBDA_PYTHON_VERSION.split("."))
    if sys.version_info[:2] == wanted:
        return sys.executable
    found = shutil.which(f"python{LAMBDA_PYTHON_VERSION}")
    return found


def with_bytecode(entries: dict[str, bytes], python: str) -> dict[str, bytes]:
    """`entries` plus a `__pycache__/<module>.cpython-312.pyc` for every .py entry."""
    tag = "cpython-" + LAMBDA_PYTHON_VERSION.replace(".", "")
    sources = sorted(name for name in entries if name.endswith(".py"))
    out = dict(entries)
    with tempfile.TemporaryDirectory(prefix="pyc-") as tmp:
        root = Path(tmp)
        jobs = []
        for name in sources:
            source = root / "src" / name
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(entries[name])
            directory, _, filename = name.rpartition("/")
            pyc = f"{directory}/__pycache__/" if directory else "__pycache__/"
            pyc += f"{filename.removesuffix('.py')}.{tag}.pyc"
            jobs.append((str(source), str(root / "pyc" / pyc), name))
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run(
            [python, "-I", "-c", _COMPILE],
            input=json.dumps(jobs),
            text=True,
            check=True,
            env=env,
        )
        for _, cfile, _name in jobs:
            out[Path(cfile).relative_to(root / "pyc").as_posix()] = Path(cfile).read_bytes()
    return out


def write_deterministic_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.external_attr = FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode bits mean the same everywhere
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def build(out_dir: Path, cache: Path, *, bytecode: bool = True) -> list[Artifact]:
    requirements = function_requirements()
    python = lambda_python() if bytecode else None
    if bytecode and python is None:
        print(
            f"warning: no Python {LAMBDA_PYTHON_VERSION} found: the zips ship without "
            "precompiled bytecode (slower cold starts)",
            file=sys.stderr,
        )
    artifacts: list[Artifact] = []
    (out_dir / "lambda").mkdir(parents=True, exist_ok=True)
    for function in handler_functions():
        modules, third_party = module_closure(f"{HANDLERS_PACKAGE}.{function}")
        unknown = sorted(third_party - set(requirements) - PROVIDED_BY_LAMBDA)
        if unknown:
            raise SystemExit(
                f"error: {function} imports {unknown}, which are neither dependencies in "
                "pyproject.toml's [project] nor provided by the Lambda runtime"
            )
        wheels = [
            wheel
            for name in sorted(third_party & set(requirements))
            for wheel in download_wheels(requirements[name], cache)
        ]
        entries = _zip_entries(modules, wheels)
        if python is not None:
            entries = with_bytecode(entries, python)
        data = write_deterministic_zip(entries)
        path = out_dir / "lambda" / f"{function}.zip"
        path.write_bytes(data)
        digest = hashlib.sha256(data).digest()
        artifacts.append(
            Artifact(
                function=function,
                path=path,
                sha256_hex=digest.hex(),
                sha256_base64=base64.b64encode(digest).decode(),
                size=len(data),
            )
        )
    return artifacts


SOURCES_MANIFEST = "artifacts.sources.json"


def source_inputs(repo_root: Path = REPO_ROOT) -> dict[str, str]:
    """Everything a zip is built from -> its sha256: every module under lambdas/ (a zip
    holds modules only), the locked Lambda wheels, pyproject's [project] dependencies."""
    inputs = {
        path.relative_to(repo_root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((repo_root / "lambdas").rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    lock = repo_root / "requirements" / "lambda.lock"
    inputs[lock.relative_to(repo_root).as_posix()] = hashlib.sha256(lock.read_bytes()).hexdigest()
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = json.dumps(sorted(pyproject["project"]["dependencies"])).encode()
    inputs["pyproject.toml [project] dependencies"] = hashlib.sha256(dependencies).hexdigest()
    return inputs


def tfvars(artifacts: list[Artifact]) -> dict[str, object]:
    return {
        "lambda_artifacts": {
            a.function: {
                "zip_path": (
                    a.path.relative_to(REPO_ROOT).as_posix()
                    if a.path.is_relative_to(REPO_ROOT)
                    else a.path.as_posix()
                ),
                "sha256": a.sha256_base64,
            }
            for a in artifacts
        }
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / ".cache" / "wheels")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="ship sources only (no precompiled .pyc)"
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    functions = handler_functions()
    print(
        f"package: building {len(functions)} Lambda zips ({', '.join(functions)}) ...", flush=True
    )
    inputs = source_inputs()
    artifacts = build(args.out.resolve(), args.cache.resolve(), bytecode=not args.no_bytecode)
    manifest = args.out / "artifacts.tfvars.json"
    manifest.write_text(json.dumps(tfvars(artifacts), indent=2, sort_keys=True) + "\n")
    sources = args.out / SOURCES_MANIFEST
    sources.write_text(json.dumps({"built_from": inputs}, indent=1, sort_keys=True) + "\n")
    for a in artifacts:
        print(f"{a.function:<11} {a.size / 1024:>8.1f} KiB  sha256 {a.sha256_hex}  {a.path.name}")
    shown = [
        m.relative_to(REPO_ROOT) if m.is_relative_to(REPO_ROOT) else m for m in (manifest, sources)
    ]
    print(f"wrote {shown[0]} and {shown[1]} in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
