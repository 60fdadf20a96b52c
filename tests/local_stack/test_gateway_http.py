"""The local gateway's HTTP server under hostile framing and load: every request gets an
answer (a 400 problem and a closed connection when it cannot be framed), nothing hangs,
and a listen backlog that holds a burst of concurrent connections."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from scripts.local_stack import gateway as gateway_module
from scripts.local_stack.gateway import ApiConfig, Gateway, make_route, serve

# Generous: the machine is shared; a hang shows as this deadline passing, not a flake.
SOCKET_TIMEOUT = 30.0


def echo_invoke(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
    body = {"method": event["requestContext"]["http"]["method"], "body": event.get("body")}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}  # fmt: skip


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(gateway_module, "BODY_TIMEOUT_SECONDS", 1.0)
    config = ApiConfig(api_id="a", routes=[make_route("$default", "api", None)])
    documents = {"/openapi.json": ("application/json", b"{}")}
    server = serve(Gateway(config, echo_invoke, log=lambda _m: None), 0, lambda: documents)
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def exchange(
    port: int, raw: bytes, expect_close: bool = False
) -> tuple[int, dict[str, str], bytes, bool]:
    """Send raw bytes; read one response. Returns (status, headers, body, closed after);
    `closed` is only looked at with `expect_close` (an open connection would make the
    check wait for the socket timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without a response: {data!r}"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk
            rest += chunk
        closed = False
        if expect_close:
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                closed = False
        return status, headers, rest[:length], closed


def problem(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)
    assert {"type", "title", "status", "detail"} <= set(data)
    return data


@pytest.mark.parametrize(
    ("raw", "detail_word"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "Content-Length"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nab", "Content-Length"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort", "Content-Length"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-B: 2\r\n\r\n", "bare CR"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", "folding"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", "name"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            "both",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk"),
        (b"GARBAGE\r\n\r\n", "request"),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", "version"),
    ],
)
def test_malformed_request_gets_a_400_problem_and_a_closed_connection(
    port: int, raw: bytes, detail_word: str
) -> None:
    status, headers, body, closed = exchange(port, raw, expect_close=True)
    assert status in (400, 505), body
    assert headers["content-type"] == "application/problem+json"
    assert detail_word.lower() in problem(body)["detail"].lower()
    assert closed


def test_unknown_transfer_coding_is_a_501_problem(port: int) -> None:
    raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
    status, _headers, body, closed = exchange(port, raw, expect_close=True)
    assert status == 501 and problem(body)["status"] == 501 and closed


@pytest.mark.parametrize("method", [b"TRACE", b"FOO", b"PATCH", b"OPTIONS", b"get"])
def test_every_method_token_is_routed_not_answered_with_html(port: int, method: bytes) -> None:
    status, _headers, body, _ = exchange(port, method + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and json.loads(body)["method"] == method.decode()


def test_chunked_body_is_decoded(port: int) -> None:
    raw = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n")  # fmt: skip
    status, _, body, _ = exchange(port, raw)
    assert status == 200 and json.loads(body)["body"] == '{"a":1}'


def test_response_that_cannot_be_encoded_is_a_500_not_a_dropped_connection() -> None:
    def bad(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 422, "body": '{"pointer": "/\ud800"}'}

    config = ApiConfig(api_id="a", routes=[make_route("$default", "api", None)])
    server = serve(Gateway(config, bad, log=lambda _m: None), 0)
    try:
        status, _, body, _ = exchange(
            int(server.server_address[1]), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}


def test_keep_alive_serves_several_requests_on_one_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk


def test_openapi_document_is_served(port: int) -> None:
    status, headers, body, _ = exchange(port, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and headers["content-type"] == "application/json" and body == b"{}"


def test_listen_backlog_holds_a_burst_of_connections(port: int) -> None:
    """256 clients connect at once (well past the old backlog of 5): none is reset."""
    assert gateway_module.LISTEN_BACKLOG >= 256
    results: list[int | str] = []
    barrier = threading.Barrier(64)

    def client() -> None:
        barrier.wait(timeout=60)
        for _ in range(4):
            try:
                results.append(exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")[0])
            except OSError as exc:
                results.append(type(exc).__name__)

    threads = [threading.Thread(target=client) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert results == [200] * 256
