"""Client JSON as the platform accepts, stores and returns it: the one policy.

- **Storable** (`storable_errors`): what DynamoDB stores exactly, checked once, at the
  edge, for every client value that is written (job payloads, session state): numbers of
  at most 38 significant digits, zero or of magnitude 1e-130 to below 1e126 (leading and
  trailing zeros do not count: DynamoDB trims them); strings and map keys valid Unicode
  (no lone surrogates: they cannot be encoded as UTF-8); map keys non-empty (DynamoDB
  refuses empty attribute names, in nested maps too); at most `MAX_NESTING` levels.
- **Numbers are exact decimals**: parsed as int/Decimal (never float), stored as DynamoDB
  numbers, written back with the digits they have (`dumps`), never through a float. Two
  numbers are the same when their values are: `canonical` output (the idempotency hash)
  normalises them, so `1`, `1.0` and `1E0` compare equal.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import Any

from jobs_platform.json_encoding import compact_encoder

MAX_NESTING = 16
MAX_SIGNIFICANT_DIGITS = 38
MIN_EXPONENT = -130  # smallest magnitude: 1e-130
MAX_EXPONENT = 125  # largest magnitude: 9.99...e125
MAX_REPORTED_ERRORS = 20

NUMBER_RULE = (
    f"numbers must have at most {MAX_SIGNIFICANT_DIGITS} significant digits and be zero or "
    f"of magnitude 1e{MIN_EXPONENT} to below 1e{MAX_EXPONENT + 1}"
)


def _pointer_part(key: str | int) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def is_valid_unicode(text: str) -> bool:
    """False for strings with lone surrogates (JSON's "\\ud800" escapes can make them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def number_error(value: int | Decimal) -> str | None:
    """Why DynamoDB cannot store `value` exactly, or None."""
    decimal = Decimal(value)
    if not decimal.is_finite():
        return "numbers must be finite"
    if decimal.is_zero():
        return None
    _sign, digits, exponent = decimal.as_tuple()
    assert isinstance(exponent, int)
    significant = "".join(map(str, digits)).strip("0")
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    # The magnitude's decimal exponent: 1.5e3 -> 3.
    adjusted = exponent + trailing + len(significant) - 1
    if len(significant) > MAX_SIGNIFICANT_DIGITS or not (MIN_EXPONENT <= adjusted <= MAX_EXPONENT):
        return NUMBER_RULE
    return None


def storable_errors(value: Any, pointer: str = "") -> list[tuple[str, str]]:
    """(JSON Pointer, why) for every part of `value` DynamoDB cannot store exactly (at
    most MAX_REPORTED_ERRORS); empty when all of it can be stored."""
    errors: list[tuple[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(value, pointer, 1)]
    while stack and len(errors) < MAX_REPORTED_ERRORS:
        item, where, depth = stack.pop()
        if depth > MAX_NESTING and isinstance(item, dict | list):
            errors.append((where, f"values must be nested at most {MAX_NESTING} levels deep"))
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not key:
                    errors.append((where, "object keys must be non-empty strings"))
                    continue
                if not is_valid_unicode(key):
                    errors.append((where, "object keys must be valid Unicode (no lone surrogates)"))
                    continue
                stack.append((child, f"{where}/{_pointer_part(key)}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}/{i}", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            if not is_valid_unicode(item):
                errors.append((where, "strings must be valid Unicode (no lone surrogates)"))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | Decimal):
            problem = number_error(item)
            if problem:
                errors.append((where, problem))
        else:
            errors.append((where, f"{type(item).__name__} values cannot be stored"))
    return errors


# Decimals leave json.dumps as marked strings that are then replaced by their digits: the
# C encoder stays in use, and the marker carries a per-process random nonce, so no client
# string can be mistaken for one.
_MARK = secrets.token_hex(8)
_MARKED = re.compile(rf'"\\u0000{_MARK}:([^"\\]+)\\u0000"')


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("NaN and infinity are not JSON")
        return f"\x00{_MARK}:{value}\x00"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _canonical(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("NaN and infinity are not JSON")
        if value.is_zero():
            return f"\x00{_MARK}:0\x00"
        _sign, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        text = "".join(map(str, digits))
        stripped = text.rstrip("0")
        exponent += len(text) - len(stripped)
        mantissa = stripped.lstrip("0") or "0"
        sign = "-" if value < 0 else ""
        return f"\x00{_MARK}:{sign}{mantissa}E{exponent}\x00"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any, *, canonical: bool = False, ascii_only: bool = False) -> str:
    """Compact JSON with numbers exact (a Decimal keeps its digits). `canonical`: keys
    sorted and every number (int or Decimal) in one normal form, for comparing values.
    `ascii_only`: non-ASCII characters (lone surrogates too) as JSON escapes."""
    if canonical:
        value = _ints_as_decimals(value)
    text = _ENCODERS[canonical, ascii_only](value)
    if _MARK in text:  # some Decimal was written as a marked string
        text = _MARKED.sub(_digits, text)
    return text


def _digits(match: re.Match[str]) -> str:
    return match.group(1)


# One encoder per variant, built once (json_encoding: a measurable part of a warm request).
_ENCODERS = {
    (canonical, ascii_only): compact_encoder(
        _canonical if canonical else _exact,
        ensure_ascii=ascii_only,
        sort_keys=canonical,
        allow_nan=False,
    )
    for canonical in (False, True)
    for ascii_only in (False, True)
}


def _ints_as_decimals(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, dict):
        return {key: _ints_as_decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_ints_as_decimals(item) for item in value]
    return value
