"""Property-based tests (Hypothesis) of everything that decodes client input: the list
cursor and limit, ids, JSON bodies, numbers, strings and map keys. For any input, each
decoder answers with a value or its documented 4xx error, never anything else (an
unexpected exception is a 500), and what is accepted round-trips exactly.

Seeded through `derandomize`: the same examples on every run and machine."""

from __future__ import annotations

import base64
import json
from decimal import Context, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jobs_platform import ids, json_values, schema
from jobs_platform.errors import BadRequest, InvalidCursor, InvalidJson
from jobs_platform.http_api import parse_json
from jobs_platform.jobs import JobStatus
from jobs_platform.jobs.cursor import decode_cursor, encode_cursor
from jobs_platform.jobs.query_params import MAX_LIST_LIMIT, parse_limit
from jobs_platform.models import JobRequest, SessionPut

PROPERTIES = settings(
    max_examples=300, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip

tenants = st.from_regex(ids.TENANT_ID_PATTERN, fullmatch=True)
statuses = st.none() | st.sampled_from(list(JobStatus))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values_strategy = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def raw_text() -> st.SearchStrategy[str]:
    """Any text, including what a hostile client would send as a cursor."""
    return (
        st.text()
        | st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
        | st.binary(max_size=2000).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))
        | st.integers(min_value=1, max_value=1536).map(
            lambda depth: base64.urlsafe_b64encode(b"[" * depth).decode().rstrip("=")
        )
    )


# -- limit ---------------------------------------------------------------------------------


@PROPERTIES
@given(raw=st.text())
def test_limit_is_an_int_in_range_or_a_400(raw: str) -> None:
    try:
        limit = parse_limit(raw)
    except BadRequest:
        return
    assert 1 <= limit <= MAX_LIST_LIMIT
    assert raw == "" or raw == str(limit) or raw.lstrip("0") == str(limit)


@PROPERTIES
@given(n=st.integers(min_value=1, max_value=MAX_LIST_LIMIT))
def test_every_limit_in_range_is_accepted(n: int) -> None:
    assert parse_limit(str(n)) == n


# -- cursor --------------------------------------------------------------------------------


@PROPERTIES
@given(cursor=raw_text(), tenant=tenants, status=statuses)
def test_any_cursor_decodes_or_is_a_400(cursor: str, tenant: str, status: JobStatus | None) -> None:
    try:
        key = decode_cursor(cursor, tenant_id=tenant, status=status)
    except InvalidCursor:
        return
    assert key[schema.PARTITION_KEY] == {"S": schema.tenant_pk(tenant)}


@PROPERTIES
@given(tenant=tenants, other=tenants, status=statuses, when=st.integers(0, 2**48 - 1))
def test_cursor_round_trips_for_its_tenant_only(
    tenant: str, other: str, status: JobStatus | None, when: int
) -> None:
    values = {
        schema.PARTITION_KEY: {"S": schema.tenant_pk(tenant)},
        schema.SORT_KEY: {"S": schema.job_sk(ids.new_ulid(when))},
    }
    if status is not None:
        values[schema.STATUS_INDEX_PARTITION_KEY] = {"S": schema.tenant_status(tenant, status)}
    cursor = encode_cursor(values)
    assert decode_cursor(cursor, tenant_id=tenant, status=status) == values
    if other != tenant:
        try:
            decode_cursor(cursor, tenant_id=other, status=status)
        except InvalidCursor:
            pass
        else:
            raise AssertionError("another tenant's cursor was accepted")


# -- ids -----------------------------------------------------------------------------------


@PROPERTIES
@given(text=st.text())
def test_id_grammars_match_whole_strings_only(text: str) -> None:
    for pattern in (ids.ULID_PATTERN, ids.SESSION_ID_PATTERN, ids.TENANT_ID_PATTERN):
        matched = ids.is_whole_match(pattern, text)
        assert matched == (pattern.fullmatch(text) is not None)
        assert not ids.is_whole_match(pattern, text + "\n")
        if matched:
            assert "\n" not in text and "\r" not in text


@PROPERTIES
@given(when=st.integers(min_value=0, max_value=2**48 - 1))
def test_new_ulids_match_the_grammar(when: int) -> None:
    value = ids.new_ulid(when)
    assert ids.is_ulid(value) and len(value) == ids.ULID_LENGTH


# -- JSON bodies, numbers, strings, map keys ------------------------------------------------


@PROPERTIES
@given(raw=st.binary(max_size=512) | st.text(max_size=512).map(str.encode))
def test_any_body_parses_or_is_a_400(raw: bytes) -> None:
    try:
        parse_json(raw)
    except InvalidJson:
        return


def dynamodb_can_store(number: Decimal) -> bool:
    """The oracle, from the number's text: trimmed digits <= 38, exponent in range."""
    if number.is_zero():
        return True
    exact = Context(prec=1000)  # enough digits for any input here: nothing rounds
    normal = exact.normalize(number.copy_abs())
    return len(normal.as_tuple().digits) <= 38 and -130 <= normal.adjusted() <= 125


@PROPERTIES
@given(
    number=st.decimals(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**130), max_value=10**130).map(Decimal)
    | st.builds(
        lambda m, e: Decimal(m).scaleb(e), st.integers(-(10**40), 10**40), st.integers(-200, 200)
    )
)
def test_number_policy_is_dynamodbs_and_keeps_every_digit(number: Decimal) -> None:
    storable = json_values.number_error(number) is None
    assert storable == dynamodb_can_store(number)
    text = json_values.dumps({"n": number})
    back = json.loads(text, parse_float=Decimal, parse_int=Decimal)["n"]
    assert back == number and str(back) == str(number)  # same value, same digits


@PROPERTIES
@given(value=st.integers(-(10**38), 10**38), zeros=st.integers(0, 5))
def test_equal_numbers_written_differently_hash_alike(value: int, zeros: int) -> None:
    exact = Context(prec=100)
    decimal = Decimal(value).quantize(Decimal(1).scaleb(-zeros), context=exact)
    assert json_values.dumps({"a": value}, canonical=True) == json_values.dumps(
        {"a": decimal}, canonical=True
    )


@PROPERTIES
@given(
    text=st.text()
    | st.lists(st.integers(0xD800, 0xDFFF), min_size=1, max_size=3).map(
        lambda codes: "".join(map(chr, codes))
    )
)
def test_strings_are_storable_exactly_when_they_are_valid_unicode(text: str) -> None:
    valid = True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        valid = False
    assert (json_values.storable_errors({"s": text}) == []) == valid
    assert (json_values.storable_errors({text or "k": 1}) == []) == valid
    body = json_values.dumps({"s": text}, ascii_only=not valid)
    body.encode("utf-8")  # always sendable
    if valid:
        assert json.loads(body)["s"] == text


@PROPERTIES
@given(key=st.text(max_size=8))
def test_map_keys_must_be_non_empty(key: str) -> None:
    errors = json_values.storable_errors({"outer": {key: 1}})
    valid_key = key != "" and json_values.is_valid_unicode(key)
    assert (errors == []) == valid_key


@PROPERTIES
@given(body=json_values_strategy)
def test_job_request_validates_or_is_a_422_never_anything_else(body: Any) -> None:
    for candidate in (body, {"type": "echo", "payload": body}, {"state": body}):
        for model in (JobRequest, SessionPut):
            try:
                parsed = model.model_validate(candidate)
            except ValidationError:
                continue
            stored = parsed.payload if isinstance(parsed, JobRequest) else parsed.state
            assert json_values.storable_errors(stored) == []
