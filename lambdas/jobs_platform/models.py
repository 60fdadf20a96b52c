"""Request bodies (pydantic): unknown fields are rejected, values must fit DynamoDB."""

from __future__ import annotations

import os
from decimal import Clamped, Context, Decimal, DecimalException, Inexact, Overflow, Rounded
from decimal import Underflow as DecimalUnderflow
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

from jobs_platform.config import SESSION_TTL_MAX_SECONDS, SESSION_TTL_MIN_SECONDS

MAX_NESTING = 16
MAX_JOB_TYPE_LENGTH = 64

# DynamoDB numbers: 38 significant digits, magnitude 1E-130 .. 9.99...E+125.
_DYNAMODB_NUMBERS = Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[Clamped, Overflow, Inexact, Rounded, DecimalUnderflow],
)


def _check_storable(value: Any, depth: int = 1) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"nested deeper than {MAX_NESTING} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item, depth + 1)
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        try:
            _DYNAMODB_NUMBERS.create_decimal(value)
        except DecimalException:
            raise ValueError(
                "contains a number that cannot be stored exactly "
                "(at most 38 significant digits, magnitude 1e-130 to 1e125)"
            ) from None


def _storable_object(value: dict[str, Any]) -> dict[str, Any]:
    _check_storable(value)
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
