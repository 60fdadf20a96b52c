"""Compact JSON encoders built once, and the strict decoder's scanner.

`json.JSONEncoder(...).encode` builds a new C encoder on every call (`iterencode` calls
`c_make_encoder` each time), and `json.JSONDecoder.decode` wraps the C scanner in two
Python calls and two regular-expression matches: on a warm request that costs more than
encoding the response and the log line, or parsing the body (`make bench`). So these are
the C parts of the `json` module (`_json`, built into CPython), set up once and called
directly. No circular-reference check: the values encoded here come from JSON or from
this package's code and cannot be circular (one would end in a RecursionError).
"""

from __future__ import annotations

import _json
import json
from collections.abc import Callable
from typing import Any

encode_string: Callable[[str], str] = _json.encode_basestring
"""A str as a quoted JSON string (non-ASCII characters as they are)."""


def compact_encoder(
    default: Callable[[Any], Any],
    *,
    ensure_ascii: bool = False,
    sort_keys: bool = False,
    allow_nan: bool = True,
) -> Callable[[Any], str]:
    """`json.JSONEncoder(separators=(",", ":"), ...).encode` with these options."""
    encode = _json.make_encoder(
        None,  # markers: no circular-reference check
        default,
        _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring,
        None,  # indent
        ":",
        ",",
        sort_keys,
        False,  # skipkeys
        allow_nan,
    )

    def encoder(value: Any) -> str:
        return "".join(encode(value, 0))

    return encoder


def scanner(decoder: json.JSONDecoder) -> Callable[[str, int], tuple[Any, int]]:
    """`decoder`'s C scanner: `(value, end)` of the JSON value at an index of a string;
    raises StopIteration(index) when no value starts there, JSONDecodeError inside one."""
    scan: Callable[[str, int], tuple[Any, int]] = _json.make_scanner(decoder)  # type: ignore[arg-type]
    return scan
