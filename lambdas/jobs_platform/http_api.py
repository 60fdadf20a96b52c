"""API Gateway HTTP API (payload format 2.0) events in, Lambda proxy responses out.

Request bodies: at most `MAX_BODY_BYTES` (64 KiB = 65,536 bytes, measured on the decoded
body, i.e. after base64 decoding) -> 413; media type `application/json` or
`application/*+json` (charset, if given, utf-8) -> else 415; UTF-8 JSON -> else 400;
schema -> 422 with an `errors` list of `{"pointer", "message"}`. Checks run in that order.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jobs_platform import ids, json_encoding, json_values
from jobs_platform.errors import (
    DuplicateJsonKey,
    FieldError,
    InvalidJson,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
    ValidationFailed,
)

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

MAX_BODY_BYTES = 64 * 1024
REQUEST_ID_HEADER = "x-request-id"
JSON_CONTENT_TYPE = "application/json"
PROBLEM_CONTENT_TYPE = "application/problem+json"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Every object of a body, as the parser reads it: a key twice is a 400 (errors.py)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                break
            seen.add(key)
        shown = key if len(key) <= 64 else f"{key[:64]}..."
        raise DuplicateJsonKey(
            f'The request body repeats the key "{shown}" in one object: a key may appear once.'
        )
    return obj


_scan = json_encoding.scanner(
    json.JSONDecoder(
        parse_float=Decimal, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
    )
)
_JSON_WHITESPACE = " \t\n\r"


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no key twice in one object; numbers with a
    fraction become Decimal. (json.loads with these options, minus its Python wrapper.)"""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("The request body is not valid JSON.") from None
    body = text.strip(_JSON_WHITESPACE)
    try:
        value, end = _scan(body, 0)
        if end == len(body):
            return value
        message, position = "Extra data", len(body) - len(body[end:].lstrip(_JSON_WHITESPACE))
    except StopIteration as stop:
        message, position = "Expecting value", stop.value
    except json.JSONDecodeError as exc:
        message, position = exc.msg, exc.pos
    except (ValueError, RecursionError):  # NaN/Infinity, or nested too deep
        raise InvalidJson("The request body is not valid JSON.") from None
    position += len(text) - len(text.lstrip(_JSON_WHITESPACE))  # as in the body sent
    raise InvalidJson(f"The request body is not valid JSON: {message} at position {position}.")


def dumps(value: Any) -> str:
    """A response body: numbers exact (json_values), and always encodable as UTF-8 (a
    lone surrogate, say in a validation error's pointer, is written as a JSON escape)."""
    text = json_values.dumps(value)
    if text.isascii() or json_values.is_valid_unicode(text):
        return text
    return json_values.dumps(value, ascii_only=True)


@cache
def _validation_error() -> type[ValidationError]:
    """pydantic's ValidationError, imported by the first request with a body (pydantic
    stays off the cold start of the routes without one)."""
    from pydantic import ValidationError  # noqa: PLC0415

    return ValidationError


def json_pointer(location: tuple[int | str, ...]) -> str:
    """RFC 6901 pointer for a pydantic error location."""
    return "".join(["/" + str(part).replace("~", "~0").replace("/", "~1") for part in location])


def _is_json_media_type(content_type: str | None) -> bool:
    if content_type == JSON_CONTENT_TYPE:  # what nearly every client sends
        return True
    if not content_type:
        return False
    media_type, *params = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    if not (
        media_type == JSON_CONTENT_TYPE
        or (media_type.startswith("application/") and media_type.endswith("+json"))
    ):
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Request:
    """One API request, decoded. A plain class: a `@dataclass(slots=True)` is built twice
    and compiles its methods when the module is imported (every cold start: config.py)."""

    __slots__ = (
        "authorizer",
        "body",
        "body_error",
        "headers",
        "log_fields",
        "method",
        "path",
        "path_params",
        "query",
        "request_id",
        "route_key",
    )

    def __init__(
        self,
        route_key: str,
        method: str,
        path: str,
        request_id: str,
        headers: Mapping[str, str] = _EMPTY,
        query: Mapping[str, str] = _EMPTY,
        path_params: Mapping[str, str] = _EMPTY,
        body: bytes = b"",
        body_error: str | None = None,
        authorizer: Mapping[str, Any] = _EMPTY,
    ) -> None:
        self.route_key = route_key
        self.method = method
        self.path = path
        self.request_id = request_id
        self.headers = headers
        self.query = query
        self.path_params = path_params
        self.body = body
        self.body_error = body_error
        self.authorizer = authorizer
        # Fields a route adds to the request's one log line (job id, type, EMF metrics).
        self.log_fields: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Request({self.method} {self.path}, request_id={self.request_id!r})"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON, after the size, media type and syntax checks."""
        if len(self.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"The request body is {len(self.body)} bytes; the limit is {MAX_BODY_BYTES}."
            )
        if not _is_json_media_type(self.headers.get("content-type")):
            raise UnsupportedMediaType(
                "The request body must be JSON: send Content-Type: application/json."
            )
        if self.body_error is not None:
            raise InvalidJson(self.body_error)
        return parse_json(self.body)

    def model[M: BaseModel](self, model: type[M]) -> M:
        """The body validated against a pydantic model (422 with `errors` if it does not fit)."""
        data = self.json()
        try:
            # The model's validator itself: `model_validate` is a Python wrapper around it.
            return model.__pydantic_validator__.validate_python(data)  # type: ignore[no-any-return]
        except _validation_error() as exc:
            # Only where and what: no documentation URL, context or input value copied.
            errors = [
                FieldError(err["msg"], json_pointer(err["loc"]))
                for err in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
            raise ValidationFailed(
                "The request body does not match the schema.", errors=errors
            ) from None


def _request_id(headers: Mapping[str, str], context: Mapping[str, Any]) -> str:
    incoming = headers.get(REQUEST_ID_HEADER)
    if incoming and ids.is_whole_match(ids.REQUEST_ID_PATTERN, incoming):
        return incoming
    aws_request_id = context.get("requestId")
    if isinstance(aws_request_id, str) and aws_request_id:
        return aws_request_id
    return str(uuid.uuid4())


def _str_map(value: Any) -> Mapping[str, str]:
    """API Gateway's string maps (headers, query string and path parameters) as they are:
    payload format 2.0 gives str -> str (or null), so no copy is made."""
    return value if isinstance(value, dict) else _EMPTY


def decode_event(event: Mapping[str, Any]) -> Request:
    """An API Gateway v2.0 event as a Request (headers lower-cased, body as bytes)."""
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    # Payload format 2.0 lower-cases header names and joins repeated ones with commas.
    headers = _str_map(event.get("headers"))
    path = str(event.get("rawPath") or http.get("path") or "/")
    stage = context.get("stage")
    if isinstance(stage, str) and stage not in ("", "$default"):
        prefix = f"/{stage}"
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :] or "/"
    raw_body = event.get("body")
    body = b""
    body_error = None
    if isinstance(raw_body, str):
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw_body, validate=True)
            except (binascii.Error, ValueError):
                body_error = "The request body is not valid base64."
        else:
            body = raw_body.encode("utf-8")
    authorizer = (context.get("authorizer") or {}).get("lambda") or {}
    return Request(  # positional: Request's order (cheaper than keywords, per request)
        str(event.get("routeKey") or "$default"),
        str(http.get("method") or "GET").upper(),
        path,
        _request_id(headers, context),
        headers,
        _str_map(event.get("queryStringParameters")),
        _str_map(event.get("pathParameters")),
        body,
        body_error,
        authorizer if isinstance(authorizer, dict) else _EMPTY,
    )


def response(
    status: int,
    body: Any = None,
    *,
    request_id: str,
    headers: Mapping[str, str] | None = None,
    content_type: str = JSON_CONTENT_TYPE,
) -> dict[str, Any]:
    """A Lambda proxy response; every response carries `x-request-id`."""
    text = dumps(body) if body is not None else None
    return _proxy_response(status, text, request_id, headers, content_type)


def _proxy_response(
    status: int,
    text: str | None,
    request_id: str,
    headers: Mapping[str, str] | None,
    content_type: str,
) -> dict[str, Any]:
    out_headers = {REQUEST_ID_HEADER: request_id, "cache-control": "no-store"}
    if text is not None:
        out_headers["content-type"] = content_type
    if headers:
        out_headers.update({key.lower(): value for key, value in headers.items()})
    return {
        "statusCode": status,
        "headers": out_headers,
        "body": text if text is not None else "",
        "isBase64Encoded": False,
    }


@cache
def _problem_head(type_: str, title: str, status: int) -> str:
    """The start of a problem document, the same for every problem of a type."""
    return dumps({"type": type_, "title": title, "status": status})[:-1]


def _field_error_json(error: FieldError) -> str:
    """`dumps(error.to_dict())`: its fields are strings, encoded directly."""
    encode = json_encoding.encode_string
    parts = []
    if error.pointer is not None:
        parts.append('"pointer":' + encode(error.pointer))
    if error.field is not None:
        parts.append('"field":' + encode(error.field))
    parts.append('"message":' + encode(error.message))
    return "{" + ",".join(parts) + "}"


def problem_json(problem: Problem) -> str:
    """`dumps(problem.to_dict())`, with the problem type's part encoded once (a 4xx is
    most of what a warm api answers cheaply: make bench)."""
    parts = [
        _problem_head(problem.type, problem.title, problem.status),
        ',"detail":',
        json_encoding.encode_string(problem.detail),
    ]
    if problem.errors:
        parts.append(',"errors":[')
        parts.append(",".join([_field_error_json(error) for error in problem.errors]))
        parts.append("]")
    text = "".join(parts) + "}"
    if text.isascii() or json_values.is_valid_unicode(text):
        return text
    return dumps(problem.to_dict())  # with lone surrogates escaped


def problem_response(problem: Problem, *, request_id: str) -> dict[str, Any]:
    return _proxy_response(
        problem.status, problem_json(problem), request_id, problem.headers, PROBLEM_CONTENT_TYPE
    )
