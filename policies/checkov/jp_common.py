"""Helpers shared by the project's Python checks (imported by file name: checkov puts
this directory on sys.path while it loads the checks)."""

from __future__ import annotations

import json
from typing import Any

# Value checkov gives an attribute that is only known after apply when a plan is scanned
# with EVAL_TF_PLAN_AFTER_UNKNOWN=true (scripts/lint-security sets it).
UNKNOWN_AFTER_APPLY = "true_after_unknown"


def first(conf: dict[str, Any], key: str) -> Any:
    """The value of ``key`` in a checkov resource conf (values come wrapped in lists)."""
    value = conf.get(key)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def block(conf: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The first nested block ``key`` (e.g. ``ttl``), or None when absent."""
    value = first(conf, key)
    return value if isinstance(value, dict) else None


def is_true(value: Any) -> bool:
    if isinstance(value, list):
        value = value[0] if value else None
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_set(value: Any) -> bool:
    """A value is present: non-empty and not null (unknown-after-apply counts as set)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value not in (None, "", [], {}) and value != "null"


def as_json(value: Any) -> Any:
    """Decode a JSON string attribute (e.g. a jsonencode()d policy); other values as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def as_number(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
