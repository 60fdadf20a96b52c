"""The four api requests every contender answers (API Gateway HTTP API 2.0 events)."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import api_event

# name -> (event, the status our handler answers)
REQUESTS: dict[str, tuple[dict[str, Any], int]] = {
    "health": (api_event("GET", "/health", tenant_id=None), 200),
    "invalid": (api_event("POST", "/v1/jobs", json_body={"type": "echo", "payload": 7}), 422),
    "non_json": (
        api_event(
            "POST", "/v1/jobs", body="{not json", headers={"content-type": "application/json"}
        ),
        400,
    ),
    "submit": (
        api_event(
            "POST", "/v1/jobs", json_body={"type": "echo", "payload": {"n": 1, "s": "hello"}}
        ),
        202,
    ),
}
ORDER = ("health", "invalid", "non_json", "submit")


def dump(path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({name: event for name, (event, _) in REQUESTS.items()}, handle)
