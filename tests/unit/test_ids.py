from __future__ import annotations

from jobs_platform import ids


def timestamp_ms(ulid: str) -> int:
    """The millisecond timestamp a ULID encodes: its first 48 of 128 bits."""
    number = 0
    for char in ulid:
        number = (number << 5) | ids.ALPHABET.index(char)
    return number >> 80


def test_new_ulid_is_26_crockford_base32_characters() -> None:
    value = ids.new_ulid()

    assert len(value) == 26
    assert ids.is_ulid(value)
    assert set(value) <= set(ids.ALPHABET)


def test_ulid_encodes_its_timestamp() -> None:
    assert timestamp_ms(ids.new_ulid(1_700_000_000_123)) >= 1_700_000_000_123


def test_ulids_within_one_millisecond_are_strictly_increasing() -> None:
    values = [ids.new_ulid(1_800_000_000_000) for _ in range(1000)]

    assert values == sorted(values)
    assert len(set(values)) == 1000


def test_later_millisecond_sorts_after() -> None:
    earlier = ids.new_ulid(1_900_000_000_000)
    later = ids.new_ulid(1_900_000_000_001)

    assert earlier < later


def test_is_ulid_rejects_lookalikes() -> None:
    assert not ids.is_ulid("01JP1ZQ4K8M6V0N2R5T7W9Y3BI")  # I is not Crockford
    assert not ids.is_ulid("01jp1zq4k8m6v0n2r5t7w9y3b1")
    assert not ids.is_ulid("81JP1ZQ4K8M6V0N2R5T7W9Y3B1")  # overflows 128 bits
    assert not ids.is_ulid("01JP1ZQ4K8M6V0N2R5T7W9Y3B")
