"""The Terraform source as data (python-hcl2): what the contract tests compare the Python
with, without running terraform."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULES = REPO_ROOT / "terraform" / "modules"


@cache
def parsed(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle))


@cache
def root_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in parsed(REPO_ROOT / "main.tf")["locals"]:
        merged.update(block)
    return merged


def module_locals(module: str, file: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in parsed(MODULES / module / file).get("locals", []):
        merged.update(block)
    return merged


def module_block(path: Path, name: str) -> dict[str, Any]:
    for block in parsed(path).get("module", []):
        if name in block:
            return dict(block[name])
    raise AssertionError(f"module {name} not found in {path}")


def resource(path: Path, resource_type: str, name: str) -> dict[str, Any]:
    for block in parsed(path).get("resource", []):
        if name in block.get(resource_type, {}):
            return dict(block[resource_type][name])
    raise AssertionError(f"resource {resource_type}.{name} not found in {path}")


def variable(variable_name: str, module: str | None = None) -> dict[str, Any]:
    """A variable block of the root module (module=None) or of terraform/modules/<module>."""
    path = (MODULES / module if module else REPO_ROOT) / "variables.tf"
    for block in parsed(path)["variable"]:
        if variable_name in block:
            return dict(block[variable_name])
    raise AssertionError(f"variable {variable_name} not found in {path}")


def variable_default(module: str, variable_name: str) -> Any:
    return variable(variable_name, module)["default"]


def validated_range(variable_name: str, module: str | None = None) -> tuple[int, int]:
    """(minimum, maximum) of a `var.x >= MIN && var.x <= MAX` validation."""
    conditions = " ".join(v["condition"] for v in variable(variable_name, module)["validation"])
    bounds = {}
    for operator in (">=", "<="):
        found = re.findall(rf"var\.{variable_name}\s*{operator}\s*(\d+)", conditions)
        assert len(found) == 1, f"{variable_name}: expected one `{operator}` bound: {conditions}"
        bounds[operator] = int(found[0])
    return bounds[">="], bounds["<="]
