"""ULIDs: 26 characters of Crockford base32, 48-bit millisecond time + 80 random bits.

IDs made in this process are strictly increasing, also within one millisecond (the
random part is incremented), so `sk` order is creation order.
"""

from __future__ import annotations

import re
import secrets
import threading
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_LENGTH = 26

# The identifier grammars, stated once (the OpenAPI document states them anchored, and a
# contract test compares). Always matched against the whole string (`is_whole_match`):
# never with a `$` anchor, which also accepts a trailing newline ("s1\n").
ULID_PATTERN = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
TENANT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
API_KEY_PATTERN = re.compile(r"jp_[A-Za-z0-9_-]{16,125}")
DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # a UTC day, YYYY-MM-DD


def is_whole_match(pattern: re.Pattern[str], value: object) -> bool:
    """`value` is a string and all of it matches `pattern`."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1
_TIME_MAX = (1 << 48) - 1

_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int) -> str:
    chars = []
    for _ in range(ULID_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid(timestamp_ms: int | None = None) -> str:
    """A new ULID for `timestamp_ms` (default: now); monotonic within this process."""
    global _last_ms, _last_random  # the monotonic state is per process
    ms = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
    if not 0 <= ms <= _TIME_MAX:
        raise ValueError(f"timestamp out of range for a ULID: {ms}")
    with _lock:
        if ms <= _last_ms:
            # Same millisecond (or the clock went back): keep ordering by incrementing.
            ms = _last_ms
            random_part = _last_random + 1
            if random_part > _RANDOM_MAX:
                ms += 1
                random_part = secrets.randbits(_RANDOM_BITS)
        else:
            random_part = secrets.randbits(_RANDOM_BITS)
        _last_ms, _last_random = ms, random_part
    return _encode((ms << _RANDOM_BITS) | random_part)


def is_ulid(value: str) -> bool:
    return is_whole_match(ULID_PATTERN, value)
