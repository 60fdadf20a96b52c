"""API Gateway HTTP API (v2) emulation on loopback, driven by the deployed configuration.

After `terraform apply` into the emulator, `ApiConfig.load` reads back the API's routes,
integrations, authorizers and stage throttling; the gateway then does what API Gateway
does with them: route selection (exact path, then `{param}` / `{proxy+}` templates, then
`$default`), the Lambda REQUEST authorizer (identity sources, simple responses, result
caching), a payload format 2.0 event for the integration, the response mapping, and the
gateway's own answers (401 missing identity, 403 denied, 429 throttled, 500 integration
failure), each with an `apigw-requestid` header.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from scripts.local_stack.runtime import InvocationError

if TYPE_CHECKING:
    from mypy_boto3_apigatewayv2 import ApiGatewayV2Client

    from scripts.local_stack.pollers import Invoke, Log

ACCOUNT_ID = "123456789012"
TEXT_CONTENT_TYPES = re.compile(
    r"^(text/|application/(json|[\w.+-]+\+json|xml|javascript|x-www-form-urlencoded))", re.I
)
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API request payload quota


@dataclass(frozen=True)
class Authorizer:
    authorizer_id: str
    function_name: str
    identity_sources: tuple[str, ...]
    simple_responses: bool
    ttl_seconds: int


@dataclass(frozen=True)
class Route:
    route_key: str
    method: str  # "ANY" or an HTTP method; "" for $default
    pattern: re.Pattern[str] | None
    literal_segments: int
    function_name: str
    authorizer: Authorizer | None


@dataclass
class ApiConfig:
    api_id: str
    routes: list[Route]
    throttle_burst: int | None = None
    throttle_rate: float | None = None
    authorizer_cache: dict[tuple[str, tuple[str, ...]], tuple[float, Any]] = field(
        default_factory=dict
    )

    @classmethod
    def load(cls, apigw: ApiGatewayV2Client, api_id: str) -> ApiConfig:
        integrations = {
            i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]
        }
        # moto has no GetAuthorizers (list); each route names its authorizer's id.
        authorizers: dict[str, Authorizer] = {}

        def authorizer(authorizer_id: str) -> Authorizer:
            if authorizer_id not in authorizers:
                a = apigw.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
                authorizers[authorizer_id] = Authorizer(
                    authorizer_id=a["AuthorizerId"],
                    function_name=function_name_from_uri(a["AuthorizerUri"]),
                    identity_sources=tuple(a.get("IdentitySource", [])),
                    simple_responses=bool(a.get("EnableSimpleResponses")),
                    ttl_seconds=int(a.get("AuthorizerResultTtlInSeconds", 0)),
                )
            return authorizers[authorizer_id]

        routes = []
        for item in apigw.get_routes(ApiId=api_id)["Items"]:
            target = item.get("Target", "")
            if not target.startswith("integrations/"):
                raise ValueError(f"route {item['RouteKey']} has no integration target")
            integration = integrations[target.removeprefix("integrations/")]
            routes.append(
                make_route(
                    item["RouteKey"],
                    function_name_from_uri(integration["IntegrationUri"]),
                    authorizer(item["AuthorizerId"])
                    if item.get("AuthorizationType") == "CUSTOM"
                    else None,
                )
            )
        config = cls(api_id=api_id, routes=routes)
        for stage in apigw.get_stages(ApiId=api_id)["Items"]:
            if stage["StageName"] == "$default":
                settings = stage.get("DefaultRouteSettings", {})
                if settings.get("ThrottlingBurstLimit") is not None:
                    config.throttle_burst = int(settings["ThrottlingBurstLimit"])
                if settings.get("ThrottlingRateLimit") is not None:
                    config.throttle_rate = float(settings["ThrottlingRateLimit"])
        return config

    def select(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """API Gateway's route selection: most specific match wins, `$default` last."""
        candidates = []
        for route in self.routes:
            if route.pattern is None or route.method not in (method, "ANY"):
                continue
            match = route.pattern.fullmatch(path)
            if match:
                rank = (route.literal_segments, route.method != "ANY")
                candidates.append((rank, route, match.groupdict()))
        if candidates:
            _, route, params = max(candidates, key=lambda c: c[0])
            return route, params
        default = next((r for r in self.routes if r.route_key == "$default"), None)
        return default, {}


def function_name_from_uri(uri: str) -> str:
    """`arn:aws:lambda:...:function:NAME` or the apigateway invocation URI wrapping it."""
    match = re.search(r"function:([^:/]+)", uri)
    if not match:
        raise ValueError(f"not a Lambda integration URI: {uri}")
    return match.group(1)


def make_route(route_key: str, function_name: str, authorizer: Authorizer | None) -> Route:
    if route_key == "$default":
        return Route(route_key, "", None, -1, function_name, authorizer)
    method, _, template = route_key.partition(" ")
    regex, literals = "", 0
    for segment in template.strip("/").split("/"):
        if segment.endswith("+}"):
            regex += rf"/(?P<{segment[1:-2]}>.+)"
        elif segment.startswith("{") and segment.endswith("}"):
            regex += rf"/(?P<{segment[1:-1]}>[^/]+)"
        else:
            regex += "/" + re.escape(segment)
            literals += 1
    return Route(route_key, method, re.compile(regex or "/"), literals, function_name, authorizer)


class TokenBucket:
    """Stage throttling: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.capacity, self.rate = burst, rate
        self.tokens, self.updated = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str] = field(default_factory=list)


def gateway_message(status: int, message: str) -> GatewayResponse:
    return GatewayResponse(
        status, {"content-type": "application/json"}, json.dumps({"message": message}).encode()
    )


class Gateway:
    """Turns one HTTP request into authorizer + integration invocations."""

    def __init__(self, config: ApiConfig, invoke: Invoke, log: Log = print) -> None:
        self.config = config
        self.invoke = invoke  # (function_name, event) -> result, raises InvocationError
        self.log = log
        self.bucket = (
            TokenBucket(config.throttle_burst, config.throttle_rate)
            if config.throttle_burst is not None and config.throttle_rate is not None
            else None
        )

    def handle(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        host: str,
    ) -> GatewayResponse:
        request_id = base64.b32encode(uuid.uuid4().bytes).decode()[:16]
        response = self._handle(request_id, method, target, headers, body, source_ip, host)
        response.headers["apigw-requestid"] = request_id
        return response

    def _handle(
        self,
        request_id: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        host: str,
    ) -> GatewayResponse:
        if self.bucket is not None and not self.bucket.take():
            return gateway_message(429, "Too Many Requests")
        if len(body) > MAX_PAYLOAD_BYTES:
            return gateway_message(413, "Request Entity Too Large")
        parts = urlsplit(target)
        path = parts.path or "/"
        route, path_params = self.config.select(method, path)
        if route is None:
            return gateway_message(404, "Not Found")
        event = build_event(
            request_id, self.config.api_id, route.route_key, method, path, parts.query,
            headers, body, source_ip, host, path_params,
        )  # fmt: skip
        if route.authorizer is not None:
            denied, context = self._authorize(route.authorizer, event)
            if denied is not None:
                return denied
            event["requestContext"]["authorizer"] = {"lambda": context}
        try:
            result = self.invoke(route.function_name, event)
        except InvocationError as exc:
            self.log(f"integration {route.function_name} failed: {exc}")
            return gateway_message(500, "Internal Server Error")
        return map_response(result)

    def _authorize(
        self, authorizer: Authorizer, event: dict[str, Any]
    ) -> tuple[GatewayResponse | None, dict[str, Any]]:
        identity = []
        for source in authorizer.identity_sources:
            value = identity_value(source, event)
            if not value:
                return gateway_message(401, "Unauthorized"), {}
            identity.append(value)
        cache_key = (authorizer.authorizer_id, tuple(identity))
        cached = self.config.authorizer_cache.get(cache_key)
        if cached and cached[0] > time.monotonic():
            result = cached[1]
        else:
            auth_event = authorizer_event(event, identity)
            try:
                result = self.invoke(authorizer.function_name, auth_event)
            except InvocationError as exc:
                self.log(f"authorizer {authorizer.function_name} failed: {exc}")
                return gateway_message(500, "Internal Server Error"), {}
            if authorizer.ttl_seconds > 0:
                expires = time.monotonic() + authorizer.ttl_seconds
                self.config.authorizer_cache[cache_key] = (expires, result)
        if not authorizer.simple_responses:
            raise NotImplementedError("IAM-policy authorizer responses are not emulated")
        if not isinstance(result, dict) or result.get("isAuthorized") is not True:
            return gateway_message(403, "Forbidden"), {}
        return None, dict(result.get("context") or {})


def identity_value(source: str, event: dict[str, Any]) -> str | None:
    if source.startswith("$request.header."):
        headers: dict[str, str] = event["headers"]
        return headers.get(source.removeprefix("$request.header.").lower())
    if source.startswith("$request.querystring."):
        return (event.get("queryStringParameters") or {}).get(
            source.removeprefix("$request.querystring.")
        )
    raise NotImplementedError(f"identity source {source} is not emulated")


def build_event(
    request_id: str,
    api_id: str,
    route_key: str,
    method: str,
    path: str,
    query: str,
    header_list: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
    path_params: dict[str, str],
) -> dict[str, Any]:
    """A payload format 2.0 event, as API Gateway builds it."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in header_list:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query_params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_params[name] = f"{query_params[name]},{value}" if name in query_params else value
    now = datetime.now(UTC)
    # API Gateway passes the request's X-Ray trace header to the integration, starting a
    # trace when the client sent none (Root=1-<epoch hex>-<96 random bits>).
    if "x-amzn-trace-id" not in headers:
        headers["x-amzn-trace-id"] = (
            f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
        )
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query_params:
        event["queryStringParameters"] = query_params
    if path_params:
        event["pathParameters"] = path_params
    if body:
        content_type = headers.get("content-type", "")
        try:
            text = body.decode("utf-8") if TEXT_CONTENT_TYPES.match(content_type) else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def authorizer_event(event: dict[str, Any], identity: list[str]) -> dict[str, Any]:
    context = event["requestContext"]
    route_arn = (
        f"arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{context['apiId']}/$default/"
        f"{context['http']['method']}{context['http']['path']}"
    )
    auth_event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn,
        "identitySource": identity,
        **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded", "version")},
    }
    return auth_event


def map_response(result: Any) -> GatewayResponse:
    """Payload format 2.0 response mapping (including the 'inferred' format)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return GatewayResponse(
            200, {"content-type": "application/json"}, json.dumps(result).encode()
        )
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return GatewayResponse(
        int(result["statusCode"]), headers, data, list(result.get("cookies") or [])
    )


# The listen backlog: connections the kernel queues before the server accepts them. The
# socketserver default (5) reset connections from a 32-client load test; this is sized
# well above any concurrency the local stack is asked to hold (Linux caps it at somaxconn).
LISTEN_BACKLOG = 1024
# An idle keep-alive connection is closed after this long; a request whose body stops
# arriving (Content-Length larger than what is sent) is answered 400 after BODY_TIMEOUT.
IDLE_TIMEOUT_SECONDS = 60.0
BODY_TIMEOUT_SECONDS = 10.0
_CONTENT_LENGTH = re.compile(r"^[0-9]{1,19}$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class FramingError(Exception):
    """The request is not well-formed HTTP/1.1 (answered with a problem, then closed)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def framing_problem(status: int, detail: str) -> GatewayResponse:
    """RFC 9457 problem for a request the gateway cannot even frame; the connection closes."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return GatewayResponse(
        status,
        {"content-type": "application/problem+json", "connection": "close"},
        json.dumps(body).encode(),
    )


class _RecordingReader:
    """Wraps the request stream while the header block is parsed, keeping the raw lines
    (the header parser treats a bare CR as a line break, which splits a header in two)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.lines: list[bytes] = []

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._stream.readline(limit)
        self.lines.append(line)
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def check_header_block(request_line: bytes, header_lines: list[bytes]) -> None:
    """RFC 9112 framing rules the standard library's parser lets through."""
    if b"\r" in request_line.rstrip(b"\r\n"):
        raise FramingError(400, "The request line contains a bare CR.")
    for raw in header_lines:
        line = raw[:-2] if raw.endswith(b"\r\n") else raw.rstrip(b"\n")
        if not line:
            continue
        if b"\r" in line or b"\x00" in line:
            raise FramingError(400, "A header field contains a bare CR or a NUL byte.")
        if line[:1] in (b" ", b"\t"):
            raise FramingError(400, "Obsolete line folding in a header field is not accepted.")
        name, colon, _value = line.partition(b":")
        if not colon or not _TOKEN.match(name.decode("latin-1")):
            raise FramingError(400, "A header field has no valid name.")


def body_length(headers: Any) -> tuple[int | None, bool]:
    """(Content-Length, chunked) of a request, or FramingError."""
    lengths = headers.get_all("content-length") or []
    encodings = headers.get_all("transfer-encoding") or []
    if lengths and encodings:
        raise FramingError(
            400, "A request must not carry both Content-Length and Transfer-Encoding."
        )
    if encodings:
        codings = [c.strip().lower() for value in encodings for c in value.split(",")]
        if codings != ["chunked"]:
            raise FramingError(501, f"Transfer-Encoding {', '.join(codings)} is not supported.")
        return None, True
    values = {value.strip() for value in ",".join(lengths).split(",")} if lengths else set()
    if not values:
        return 0, False
    if len(values) != 1 or not _CONTENT_LENGTH.match(next(iter(values))):
        raise FramingError(400, "Content-Length must be one non-negative integer.")
    return int(next(iter(values))), False


def read_exactly(stream: Any, length: int) -> bytes:
    chunks, remaining = [], length
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            raise FramingError(400, "The request body is shorter than its Content-Length.")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_chunked(stream: Any, limit: int) -> bytes:
    """A chunked request body (RFC 9112 section 7.1), at most `limit` bytes."""
    body = bytearray()
    while True:
        line = stream.readline(1026)
        if not line.endswith(b"\r\n"):
            raise FramingError(400, "A chunk size line is malformed.")
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not size_text or not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
            raise FramingError(400, "A chunk size is not a hexadecimal number.")
        size = int(size_text, 16)
        if size == 0:
            while True:  # trailer fields, up to the empty line
                trailer = stream.readline(8192)
                if trailer in (b"\r\n", b"\n"):
                    return bytes(body)
                if not trailer:
                    raise FramingError(400, "The chunked body ended without its last line.")
        if len(body) + size > limit:
            raise FramingError(413, "The request body is larger than the API's payload limit.")
        body += read_exactly(stream, size)
        if stream.read(2) != b"\r\n":
            raise FramingError(400, "A chunk is not followed by CRLF.")


def encode_response(response: GatewayResponse, head_only: bool) -> bytes:
    """The whole response as bytes (built before anything is sent, so a value that cannot
    be encoded fails here and is answered 500, instead of cutting the connection)."""
    reason = (
        HTTPStatus(response.status).phrase
        if response.status in HTTPStatus._value2member_map_
        else ""
    )
    fields = [(name, value) for name, value in response.headers.items()]
    fields = [f for f in fields if f[0] not in ("content-length", "transfer-encoding")]
    fields += [("set-cookie", cookie) for cookie in response.cookies]
    fields += [("content-length", str(len(response.body))), ("date", formatdate(usegmt=True))]
    for name, value in fields:
        if any(c in f"{name}{value}" for c in "\r\n\x00") or not _TOKEN.match(name):
            raise ValueError(f"response header {name!r} cannot be sent")
    lines = [f"HTTP/1.1 {response.status} {reason}", *(f"{n}: {v}" for n, v in fields)]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body


class LocalHTTPServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    block_on_close = False


def serve(
    gateway: Gateway, port: int, documents: Callable[[], dict[str, tuple[str, bytes]]] | None = None
) -> ThreadingHTTPServer:
    """An HTTP/1.1 server on 127.0.0.1 (loopback only) in a daemon thread.

    Malformed requests (bad request line, bare CR or obsolete folding in headers, a
    Content-Length that is not one non-negative integer or that the body never reaches,
    Content-Length with Transfer-Encoding) are answered with a 400 problem and the
    connection is closed; any method token is routed (API Gateway's `$default` route
    answers unknown ones). `documents` are extra local-only files served on GET (the
    OpenAPI document).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-apigw"
        timeout = IDLE_TIMEOUT_SECONDS

        def parse_request(self) -> bool:
            recorder = _RecordingReader(self.rfile)
            self.rfile = recorder  # type: ignore[assignment]
            try:
                ok = super().parse_request()
            finally:
                self.rfile = recorder._stream
            if not ok:
                return False
            try:
                check_header_block(self.raw_requestline, recorder.lines)
            except FramingError as exc:
                self._reply(framing_problem(exc.status, exc.detail))
                return False
            if self.request_version == "HTTP/0.9":
                self._reply(framing_problem(400, "HTTP/0.9 is not supported."))
                return False
            return True

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            # The standard library's own answers (bad request line, header too long...).
            if self.request_version == "HTTP/0.9" or not getattr(self, "request_version", None):
                self.request_version = "HTTP/1.1"
            self._reply(framing_problem(code, message or HTTPStatus(code).phrase))

        def _reply(self, response: GatewayResponse, head_only: bool = False) -> None:
            if response.headers.get("connection") == "close":
                self.close_connection = True
            try:
                data = encode_response(response, head_only)
            except (UnicodeEncodeError, ValueError) as exc:
                gateway.log(f"response could not be encoded: {exc}")
                data = encode_response(gateway_message(500, "Internal Server Error"), head_only)
            self.log_request(response.status, len(response.body))
            with contextlib.suppress(OSError):
                self.wfile.write(data)
                self.wfile.flush()

        def _read_body(self) -> bytes:
            length, chunked = body_length(self.headers)
            if length is not None and length > MAX_PAYLOAD_BYTES:
                raise FramingError(413, "The request body is larger than the API's payload limit.")
            self.connection.settimeout(BODY_TIMEOUT_SECONDS)
            try:
                if chunked:
                    return read_chunked(self.rfile, MAX_PAYLOAD_BYTES)
                return read_exactly(self.rfile, length or 0)
            except TimeoutError:
                raise FramingError(
                    400,
                    f"The request body did not arrive within {BODY_TIMEOUT_SECONDS:.0f} s "
                    "(Content-Length larger than the body?).",
                ) from None
            finally:
                self.connection.settimeout(IDLE_TIMEOUT_SECONDS)

        def _any(self) -> None:
            try:
                body = self._read_body()
            except FramingError as exc:
                self._reply(framing_problem(exc.status, exc.detail))
                return
            path = urlsplit(self.path).path
            if documents is not None and self.command in ("GET", "HEAD"):
                document = documents().get(path)
                if document is not None:
                    content_type, content = document
                    self._reply(
                        GatewayResponse(200, {"content-type": content_type}, content),
                        head_only=self.command == "HEAD",
                    )
                    return
            try:
                response = gateway.handle(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                    self.headers.get("host", f"127.0.0.1:{port}"),
                )
            except Exception as exc:  # noqa: BLE001 - never drop a connection without an answer
                gateway.log(f"gateway error: {type(exc).__name__}: {exc}")
                response = gateway_message(500, "Internal Server Error")
            self._reply(response, head_only=self.command == "HEAD")

        def __getattr__(self, name: str) -> Any:
            # Every method token reaches the router (do_GET, do_TRACE, do_FOO, ...).
            if name.startswith("do_"):
                return self._any
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            gateway.log(f"{self.address_string()} {format % args}")

    server = LocalHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="gateway").start()
    return server
