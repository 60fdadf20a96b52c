"""A scratch copy of the repository's configuration, for tests that edit it (pre-flight,
backend-config): what the pre-flight reads, and the edits a team makes before deploying."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scripts import environments as envs
from scripts.package import SOURCES_MANIFEST, source_inputs
from scripts.terraform_cli import copy_root_module

REPO_ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"


def copy_config(dest: Path) -> Path:
    """The files the pre-flight and an offline plan read: the root module with its lock and
    child modules, environments/, lambdas/ sources, the Lambda lock and pyproject, and
    an artifacts manifest built from exactly those sources."""
    copy_root_module(REPO_ROOT, dest, module_tests=False)
    shutil.copytree(
        REPO_ROOT / "lambdas",
        dest / "lambdas",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    (dest / "requirements").mkdir()
    shutil.copy2(REPO_ROOT / "requirements" / "lambda.lock", dest / "requirements" / "lambda.lock")
    shutil.copy2(REPO_ROOT / "pyproject.toml", dest / "pyproject.toml")
    write_placeholder_artifacts(dest)
    (dest / "dist" / SOURCES_MANIFEST).write_text(json.dumps({"built_from": source_inputs(dest)}))
    return dest


def write_placeholder_artifacts(root: Path) -> None:
    """dist/artifacts.tfvars.json naming zips that need not exist: enough for Terraform to
    plan or evaluate the root module (which reads that file by default)."""
    dist = root / "dist"
    dist.mkdir(exist_ok=True)
    empty_sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="  # base64 sha256 of b""
    zips = {
        f: {"zip_path": f"dist/lambda/{f}.zip", "sha256": empty_sha256}
        for f in ("api", "authorizer", "worker", "bookkeeper")
    }
    (dist / "artifacts.tfvars.json").write_text(json.dumps({"lambda_artifacts": zips}))


def make_deployable(root: Path) -> None:
    """What a team does before its first deploy: real addresses, the bootstrap's outputs."""
    for env in envs.environments(root):
        tfvars = envs.tfvars_path(env, root)
        tfvars.write_text(
            tfvars.read_text().replace("platform-alerts@example.com", "alerts@team.invalid")
        )
        backend = envs.backend_path(env, root)
        text = backend.read_text()
        text = text.replace("<account-id>", ACCOUNT).replace("<region>", "us-east-1")
        text = text.replace(
            "<StateKeyArn output of the bootstrap stack>",
            f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-8444-555555555555",
        )
        backend.write_text(text)


def add_environment(root: Path, name: str, like: str = "staging") -> None:
    """A new environment, the documented way: its tfvars and backend file, nothing else."""
    tfvars = envs.tfvars_path(like, root).read_text()
    envs.tfvars_path(name, root).write_text(
        tfvars.replace(f'environment = "{like}"', f'environment = "{name}"')
    )
    backend = envs.backend_path(like, root).read_text()
    envs.backend_path(name, root).write_text(backend.replace(f"/{like}/", f"/{name}/"))
