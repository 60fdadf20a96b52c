"""Request bodies (pydantic): unknown fields are rejected, values must fit DynamoDB."""

from __future__ import annotations

import os
from typing import Annotated, Any

# No pydantic plugins are used: without this, the first model scans the entry points of
# every installed distribution for them (milliseconds of every cold start: make bench).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
)

from jobs_platform import json_values
from jobs_platform.config import SESSION_TTL_MAX_SECONDS, SESSION_TTL_MIN_SECONDS

MAX_JOB_TYPE_LENGTH = 64
MAX_NESTING = json_values.MAX_NESTING


def _storable_object(value: dict[str, Any]) -> dict[str, Any]:
    """What DynamoDB can store exactly (json_values): else 422, naming the first place."""
    errors = json_values.storable_errors(value)
    if errors:
        pointer, message = errors[0]
        where = f" at {pointer}" if pointer else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValueError(f"cannot be stored{where}: {message}{more}")
    return value


StorableObject = Annotated[dict[str, Any], AfterValidator(_storable_object)]


class JobRequest(BaseModel):
    """`POST /v1/jobs` body."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: Annotated[StrictStr, Field(min_length=1, max_length=MAX_JOB_TYPE_LENGTH)]
    payload: StorableObject


class SessionPut(BaseModel):
    """`PUT /v1/sessions/{session_id}` body."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    state: StorableObject
    ttl_seconds: (
        Annotated[StrictInt, Field(ge=SESSION_TTL_MIN_SECONDS, le=SESSION_TTL_MAX_SECONDS)] | None
    ) = None
