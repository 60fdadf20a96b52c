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
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scripts.local_stack.runtime import InvocationError

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
    def load(cls, apigw: Any, api_id: str) -> ApiConfig:
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

    def __init__(self, config: ApiConfig, invoke: Any, log: Any = print) -> None:
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
        return event["headers"].get(source.removeprefix("$request.header.").lower())
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


def serve(gateway: Gateway, port: int) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 (loopback only) in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-apigw"

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            response = gateway.handle(
                self.command,
                self.path,
                list(self.headers.items()),
                body,
                self.client_address[0],
                self.headers.get("host", f"127.0.0.1:{port}"),
            )
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            for cookie in response.cookies:
                self.send_header("set-cookie", cookie)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

        def log_message(self, format: str, *args: Any) -> None:
            gateway.log(f"{self.address_string()} {format % args}")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="gateway").start()
    return server
