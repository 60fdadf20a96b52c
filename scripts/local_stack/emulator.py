"""The local AWS emulator: moto server on loopback, with the project's patches.

Run it on its own::

    python -m scripts.local_stack.emulator --host 127.0.0.1 --port 5000

It prints exactly one line ``READY http://127.0.0.1:<port>`` on stdout once the server
accepts connections (``--port 0`` picks a free port and reports it), and exits with
status 0 on SIGTERM or SIGINT. With ``--exit-on-stdin-eof`` it also exits when its
standard input closes, and with ``--parent-pid`` when that process goes away: that is
how :class:`EmulatorProcess` makes sure no emulator outlives the process that started
it, even when that process is killed with SIGKILL.

Patches (applied in this process only, never in tests that import moto in-process):

- SQS ``Queue.attributes`` renders ``RedrivePolicy`` as compact JSON, as AWS does;
  moto's ``json.dumps`` default separators make the AWS provider see a perpetual diff.
  Each attribute is rendered when it is read (moto rendered all, counting the queue's
  messages three times, on every send). Every queue operation holds one lock (moto's SQS
  is not thread-safe: a delete racing a send lost the message). ``Queue.add_message`` only
  appends the message (keeping moto's FIFO de-duplication) and wakes long polls; it never
  invokes Lambda event source mappings (moto would start Docker). The local stack's own
  poller runs the worker. See ``_patch_sqs_queues``.
- DynamoDB queries of a table's own key read that partition, not a sort of the whole
  table (``_patch_dynamodb_partition_queries``).
- DynamoDB writes: every write is serialised behind one lock (moto checks a condition and
  writes in separate steps, so racing conditional writes could both pass), and
  ``transact_write_items`` checks all conditions before writing anything and undoes a
  write that fails midway from a log of the touched items, instead of moto's deep copy
  of each touched table per transaction item (which made each job submission slower as
  history grew, and on a cancelled transaction orphaned the table's stream shard).
- moto's server, per request: the backend for a host name is remembered (moto listed its
  package directory and matched every URL pattern under one lock, on each request); an
  SQS receive reads a queue's retention period without rendering (and counting) all its
  attributes for each message returned; responses go out with TCP_NODELAY (headers and
  body are two sends: no wait for a delayed ACK in between). See
  ``_patch_server_per_request_costs``.
- Lambda ``CreateFunction``: moto answers a retried create (the SDK resends a request whose
  response it lost) with 409 ResourceConflict, which the provider then retries for five
  minutes and fails on. A create identical in code and role to a function that already
  exists returns that function, as the retry's effect on AWS would be.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

READY_PREFIX = "READY "
LOOPBACK = "127.0.0.1"
_PARENT_POLL_SECONDS = 1.0
# A kept-alive connection with no request for this long is closed (its thread ends).
_IDLE_SECONDS = 120


def apply_patches() -> None:
    """Patch moto's SQS, DynamoDB and Lambda models and its server (idempotent)."""
    _patch_dynamodb_transactions()
    _patch_lambda_create_retry()
    _patch_server_per_request_costs()
    _patch_sqs_queues()
    _patch_dynamodb_partition_queries()


# One lock for every SQS queue operation in the emulator, and the condition a long poll
# waits on. moto's SQS model is not thread-safe and its server is threaded: two receives
# could both move one message to the DLQ (the second failed with "list.remove(x): x not
# in list", a 500), and a delete rebuilds the queue's message list while a send may be
# appending to the old one (that message would be lost). SQS itself is atomic per call.
_SQS_LOCK = threading.RLock()
_SQS_CHANGED = threading.Condition(_SQS_LOCK)
_SERIALISED_SQS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
)


def _serialise(cls: Any, method_names: tuple[str, ...], lock: Any) -> None:
    """Each named method of `cls` runs holding `lock` (one call at a time, as AWS applies
    each call atomically)."""

    def serialised(method: Any) -> Any:
        def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        locked.__name__ = method.__name__
        return locked

    for name in method_names:
        setattr(cls, name, serialised(getattr(cls, name)))


class QueueAttributes(Mapping[str, Any]):
    """A queue's attributes, each rendered when it is read (what moto's property returns
    when rendered in full, with ``RedrivePolicy`` as compact JSON, as AWS renders it).

    moto rendered every attribute, counting the visible, in-flight and delayed messages
    (three passes over the whole queue), to read one of them on each message sent: with a
    backlog of a few thousand messages, a send cost milliseconds of the emulator's time.
    """

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def _names(self) -> list[str]:
        queue = self._queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        return list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(name)
        from moto.core.utils import camelcase_to_underscores  # noqa: PLC0415

        value = getattr(self._queue, camelcase_to_underscores(name))
        if name == "RedrivePolicy" and value:
            value = json.dumps(value, separators=(",", ":"))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def _patch_sqs_queues() -> None:
    """SQS: atomic queue operations, attributes rendered on demand, cheap message checks.

    - Every queue operation holds ``_SQS_LOCK``; a long poll releases it while it waits
      (``_SQS_CHANGED``), and a message added wakes it.
    - ``Queue.attributes`` is a :class:`QueueAttributes` (rendered per key).
    - ``Message.visible`` / ``delayed`` compare with ``time.time()``: moto built two
      datetimes per message per check (every receive checks every message in the queue).
    - ``Message.had_receipt_handle`` without building a list (asked of every message on
      each delete).
    - ``Queue.add_message`` only appends the message (keeping moto's FIFO de-duplication);
      it never invokes Lambda event source mappings (moto would start Docker). The local
      stack's own poller runs the worker.
    """
    from moto.sqs import models as sqs_models  # noqa: PLC0415 - moto loads only in the child

    queue_cls: Any = sqs_models.Queue
    if getattr(queue_cls, "_jobs_platform_patched", False):
        return
    backend_cls: Any = sqs_models.SQSBackend
    message_cls: Any = sqs_models.Message

    _serialise(backend_cls, _SERIALISED_SQS, _SQS_LOCK)
    original_get_attributes = backend_cls.get_queue_attributes

    def get_queue_attributes(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(original_get_attributes(self, *args, **kwargs))

    def add_message(self: Any, message: Any) -> None:
        with _SQS_CHANGED:
            if self.fifo_queue and (
                self.attributes.get("ContentBasedDeduplication") == "true"
                or message.deduplication_id
            ):
                for existing in self._messages:
                    if existing.deduplication_id == message.deduplication_id:
                        elapsed_ms = message.sent_timestamp - existing.sent_timestamp
                        if elapsed_ms / 1000 < sqs_models.DEDUPLICATION_TIME_IN_SECONDS:
                            return
            self._messages.append(message)
            _SQS_CHANGED.notify_all()
        # Deliberately no Lambda event source mapping invocation (see module docstring).

    def wait_for_messages(self: Any, timeout: int) -> None:
        # A Condition over an RLock releases every level this thread holds while it waits.
        with _SQS_CHANGED:
            _SQS_CHANGED.wait_for(lambda: self.messages, timeout=timeout)

    def had_receipt_handle(self: Any, receipt_handle: str) -> bool:
        return receipt_handle == self.receipt_handle or receipt_handle in self._old_receipt_handles

    backend_cls.get_queue_attributes = get_queue_attributes
    queue_cls.attributes = property(QueueAttributes)
    queue_cls.add_message = add_message
    queue_cls.wait_for_messages = wait_for_messages
    message_cls.visible = property(lambda self: time.time() * 1000 > self.visible_at)
    message_cls.delayed = property(lambda self: time.time() * 1000 < self.delayed_until)
    message_cls.had_receipt_handle = had_receipt_handle
    queue_cls._jobs_platform_patched = True


def _patch_dynamodb_partition_queries() -> None:
    """A query of a table's own key reads that partition, not the whole table.

    moto's ``Table.query`` without an index sorts every item of the table and then keeps
    the partition's: each page of a tenant's job list cost time in proportion to all the
    jobs ever stored (about a second per page after a few thousand jobs under load).
    While such a query runs, ``all_items`` answers with the partition's items only (the
    query's other steps are moto's own).
    """
    from moto.dynamodb.models.table import Table  # noqa: PLC0415 - moto loads only in the child

    table_cls: Any = Table
    if getattr(table_cls, "_jobs_platform_patched", False):
        return
    original_query = table_cls.query
    original_all_items = table_cls.all_items
    partition = threading.local()

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's DynamoDBBackend passes the index name seventh after the hash key.
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        partition.of = (self, hash_key) if index_name is None else None
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            partition.of = None

    def all_items(self: Any) -> Any:
        scope = getattr(partition, "of", None)
        if scope is None or scope[0] is not self:
            return original_all_items(self)
        found = self.items.get(scope[1])
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]

    table_cls.query = query
    table_cls.all_items = all_items
    table_cls._jobs_platform_patched = True


# Per server thread: whether the request being answered had its body read in full (then
# its connection is kept alive).
_request_state = threading.local()


class _NoDrain:
    """werkzeug's post-response drain selector, for a kept-alive connection: sees nothing."""

    def __init__(self) -> None:
        self._real = (
            None if getattr(_request_state, "body_read", False) else (selectors.DefaultSelector())
        )

    def register(self, fileobj: Any, events: int) -> None:
        if self._real is not None:
            self._real.register(fileobj, events)

    def select(self, timeout: float | None = None) -> list[Any]:
        return self._real.select(timeout) if self._real is not None else []

    def close(self) -> None:
        if self._real is not None:
            self._real.close()


class _PostResponseDrain:
    """Stands in for the `selectors` module in werkzeug.serving (used only by the drain)."""

    EVENT_READ = selectors.EVENT_READ
    DefaultSelector = _NoDrain


def _patch_server_per_request_costs() -> None:
    """What moto's server does again on every request although its answer never changes.

    - `DomainDispatcherApplication.get_backend_for_host`: a pure function of the host
      name, yet it lists moto's package directory (a `stat` per service, some 200) and
      tries every backend's URL pattern, under the dispatcher's one lock, so every
      request in the emulator waited for it in turn. Remembered per host.
    - `SQSBackend.is_message_valid_based_on_retention_period`: asked for each message a
      receive returns, it rendered all the queue's attributes (counting its visible,
      in-flight and delayed messages: three passes over the whole queue) to read one
      number. Reads that number.
    - Responses are written as two sends (headers, then body); with Nagle's algorithm on,
      the body can wait for the client's delayed ACK of the headers (up to 40 ms on
      Linux). TCP_NODELAY, as a production server sets it.
    - `BackendDict[account_id]`: every lookup of a service's backend (several per request)
      took moto's one global backend lock and listed the accounts, so every request
      thread queued on it in turn. An account's backend, once created, is looked up
      without the lock (it is created, under the lock, as before).
    - Keep-alive: werkzeug closes every connection after one response (http.server does
      not skip an unread request body before the next request line), so each SDK call
      paid a TCP connect and a new server thread. The request body (Content-Length) is
      read in full before the app runs, and then the connection is kept; a chunked
      request still closes it. Idle connections are closed after IDLE_SECONDS.
    """
    from moto.core.base_backend import BackendDict  # noqa: PLC0415
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: PLC0415
    from moto.sqs.models import SQSBackend  # noqa: PLC0415
    from werkzeug import serving  # noqa: PLC0415
    from werkzeug.serving import WSGIRequestHandler  # noqa: PLC0415

    dispatcher: Any = DomainDispatcherApplication
    if getattr(dispatcher, "_jobs_platform_patched", False):
        return
    original_backend_for_host = dispatcher.get_backend_for_host
    backends_by_host: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in backends_by_host:
            backends_by_host[host] = original_backend_for_host(self, host)
        return backends_by_host[host]

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    dispatcher.get_backend_for_host = get_backend_for_host
    backend_dict: Any = BackendDict
    create_account_backend = backend_dict._create_account_specific_backend

    def create_account_specific_backend(self: Any, account_id: str) -> None:
        if not dict.__contains__(self, account_id):
            create_account_backend(self, account_id)

    backend_dict._create_account_specific_backend = create_account_specific_backend
    backend_cls: Any = SQSBackend
    backend_cls.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )
    handler_cls: Any = WSGIRequestHandler
    handler_cls.disable_nagle_algorithm = True
    handler_cls.timeout = _IDLE_SECONDS
    original_make_environ = handler_cls.make_environ
    original_send_header = handler_cls.send_header

    def make_environ(self: Any) -> dict[str, Any]:
        environ: dict[str, Any] = original_make_environ(self)
        _request_state.body_read = False
        if "Transfer-Encoding" in self.headers:
            return environ  # chunked: werkzeug reads it to its end; the connection closes
        length = self.headers.get("Content-Length")
        if length is not None:
            size = int(length)
            body = self.rfile.read(size) if size > 0 else b""
            if len(body) != size:
                return environ  # the client went away mid-body: close
            environ["wsgi.input"] = io.BytesIO(body)
        _request_state.body_read = True
        return environ

    def send_header(self: Any, keyword: str, value: str) -> None:
        keep = getattr(_request_state, "body_read", False) and not self.close_connection
        if keep and keyword.lower() == "connection" and value.lower() == "close":
            return  # the next request line is next on the stream: keep the connection
        original_send_header(self, keyword, value)

    handler_cls.make_environ = make_environ
    handler_cls.send_header = send_header
    # After each response werkzeug discards whatever the client sent next (it would be
    # read and lost: with keep-alive, the next request), polling 10 ms for it: only for
    # a connection it closes.
    serving_module: Any = serving
    serving_module.selectors = _PostResponseDrain
    dispatcher._jobs_platform_patched = True


def _patch_lambda_create_retry() -> None:
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    from moto.awslambda.exceptions import UnknownFunctionException  # noqa: PLC0415
    from moto.awslambda.responses import LambdaResponse  # noqa: PLC0415

    response_cls: Any = LambdaResponse
    if getattr(response_cls, "_jobs_platform_patched", False):
        return
    original = response_cls.create_function

    def create_function(self: Any) -> Any:
        body = self.json_body
        try:
            existing = self.backend.get_function(body["FunctionName"].rsplit(":", 1)[-1], None)
        except UnknownFunctionException:
            return original(self)
        zip_file = body.get("Code", {}).get("ZipFile")
        if zip_file and existing.role == body.get("Role"):
            digest = hashlib.sha256(base64.b64decode(zip_file)).digest()
            if existing.code_sha_256 == base64.b64encode(digest).decode():
                config = existing.get_configuration(on_create=True)
                return 201, {"status": 201}, json.dumps(config)
        return original(self)  # a different function under that name: the real 409

    response_cls.create_function = create_function
    response_cls._jobs_platform_patched = True


# One lock for every DynamoDB write in the emulator. moto evaluates a condition and then
# applies the write as separate Python steps, and its server is threaded: without this,
# two racing conditional writes (two workers claiming one job, two submissions with one
# Idempotency-Key) could both pass. AWS applies each write atomically; so does this.
_DYNAMODB_WRITE_LOCK = threading.RLock()
_SERIALISED_WRITES = ("put_item", "update_item", "delete_item")


def _patch_dynamodb_transactions() -> None:
    """Atomic writes, and TransactWriteItems without a deep copy of whole tables.

    moto backs up each table a transaction touches with ``copy.deepcopy`` (once per
    transaction item), so every job submission copied the whole jobs table and its stream:
    the cost grew with history (68 ms -> 580 ms per submit, 4.7 GB RSS under load). Here a
    transaction checks every condition first, against the state before it (as AWS does),
    and writes only if all hold; a write that still fails midway is undone from a log of
    the items it touched (each copied alone) and the stream records it added.
    """
    from moto.dynamodb.comparisons import get_filter_expression  # noqa: PLC0415
    from moto.dynamodb.exceptions import (  # noqa: PLC0415 - moto loads only in the child
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    backend_cls: Any = DynamoDBBackend
    if getattr(backend_cls, "_jobs_platform_patched", False):
        return

    _serialise(backend_cls, _SERIALISED_WRITES, _DYNAMODB_WRITE_LOCK)

    def item_key(table: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
        if op_type != "Put":
            return dict(op["Key"])
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key

    def restore(table: Any, key: dict[str, Any], before: Any) -> None:
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = (
            DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
        )
        if range_value is None:
            if before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        elif before is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = before

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        with _DYNAMODB_WRITE_LOCK:
            ops: list[tuple[str, dict[str, Any], Any, dict[str, Any]]] = []
            seen: set[tuple[str, str]] = set()
            for item in transact_items:
                if len(item) > 1:
                    raise TransactWriteSingleOpException
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise MockValidationException("Unsupported transaction operation")
                table = self.get_table(op["TableName"])
                key = item_key(table, op_type, op)
                identity = (str(op["TableName"]), str(dict(sorted(key.items()))))
                if identity in seen:
                    raise MultipleTransactionsException()
                seen.add(identity)
                ops.append((op_type, op, table, key))

            # Every condition against the state before the transaction; no write yet.
            errors: list[tuple[Any, Any, Any]] = []
            for _op_type, op, _table, key in ops:
                current = self.get_item(op["TableName"], key)
                condition = op.get("ConditionExpression")
                failed = condition is not None and not get_filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                ).expr(current)
                if failed:
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(
                        ("ConditionalCheckFailed", str(ConditionalCheckFailed().message), old)
                    )
                else:
                    errors.append((None, None, None))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)

            # All hold: write, keeping an undo log of the touched items and stream lengths.
            undo: list[tuple[Any, dict[str, Any], Any]] = []
            streams = {
                id(table): (table.stream_shard, len(table.stream_shard.items))
                for _, _, table, _ in ops
                if table.stream_shard is not None
            }
            try:
                for op_type, op, table, key in ops:
                    before = self.get_item(op["TableName"], key)
                    undo.append((table, key, copy.deepcopy(before)))
                    names = op.get("ExpressionAttributeNames")
                    values = op.get("ExpressionAttributeValues")
                    if op_type == "Put":
                        self.put_item(op["TableName"], op["Item"])
                    elif op_type == "Delete":
                        self.delete_item(op["TableName"], key)
                    elif op_type == "Update":
                        self.update_item(
                            op["TableName"],
                            key,
                            update_expression=op["UpdateExpression"],
                            expression_attribute_names=names,
                            expression_attribute_values=values,
                        )
            except Exception as exc:
                for table, key, before in reversed(undo):
                    restore(table, key, before)
                for shard, length in streams.values():
                    del shard.items[length:]
                if isinstance(exc, MockValidationException):
                    raise
                reasons: list[tuple[Any, Any, Any]] = [(None, None, None)] * len(ops)
                reasons[len(undo) - 1] = (type(exc).__name__, str(exc), None)
                raise TransactionCanceledException(reasons) from exc

    backend_cls.transact_write_items = transact_write_items
    backend_cls._jobs_platform_patched = True


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="moto server on loopback with project patches")
    parser.add_argument("--host", default=LOOPBACK, help="bind address (loopback only)")
    parser.add_argument("--port", type=int, default=5000, help="TCP port; 0 picks a free one")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when standard input closes (the parent holds the other end)",
    )
    parser.add_argument(
        "--parent-pid", type=int, default=0, help="exit when this process goes away"
    )
    args = parser.parse_args(argv)
    if args.host not in {LOOPBACK, "localhost", "::1"}:
        parser.error(f"--host must be a loopback address, got {args.host!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Serve moto until SIGTERM/SIGINT (or parent death / stdin EOF when asked)."""
    args = _parse_args(argv)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    apply_patches()
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - heavy, child only
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415 - child only

    # No line per request in the emulator's log: at a few hundred calls a second the
    # logging (and the parent's pump of it) cost a sixth of the emulator's time.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, app, threaded=True)
    port = int(server.server_address[1])
    # moto builds some URLs (e.g. SQS queue URLs outside a request) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)

    serve = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    serve.start()

    if args.exit_on_stdin_eof:

        def _watch_stdin() -> None:
            with contextlib.suppress(OSError, ValueError):
                while sys.stdin.buffer.read(4096):
                    pass
            stop.set()

        threading.Thread(target=_watch_stdin, name="stdin-watch", daemon=True).start()

    if args.parent_pid:

        def _watch_parent() -> None:
            while not stop.wait(_PARENT_POLL_SECONDS):
                if os.getppid() != args.parent_pid:
                    stop.set()

        threading.Thread(target=_watch_parent, name="parent-watch", daemon=True).start()

    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"{READY_PREFIX}http://{host}:{port}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
    return 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class EmulatorError(RuntimeError):
    """The emulator did not start (the message carries its log tail)."""


class EmulatorProcess:
    """Run the emulator in a child process group for the lifetime of a ``with`` block.

    ``port=0`` picks a free port. The child reads its stdin (a pipe this object holds)
    and watches this process's pid, so it exits when this process dies, however it
    dies. ``stop()`` terminates the whole process group.
    """

    def __init__(
        self, port: int = 0, log_path: Path | None = None, start_timeout: float = 30.0
    ) -> None:
        self.port = port or _free_port()
        self.log_path = log_path
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._tail: deque[str] = deque(maxlen=40)
        self._reader: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> EmulatorProcess:
        if self._proc is not None:
            return self
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        repo_root = Path(__file__).resolve().parents[2]
        cmd = [
            sys.executable,
            "-m",
            "scripts.local_stack.emulator",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--exit-on-stdin-eof",
            "--parent-pid",
            str(os.getpid()),
        ]
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            cmd,
            cwd=repo_root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ready = threading.Event()
        self._reader = threading.Thread(
            target=self._pump, args=(ready,), name="emulator-log", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + self.start_timeout
        while not ready.wait(0.1):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                reason = (
                    f"exited with status {self._proc.returncode}"
                    if self._proc.poll() is not None
                    else f"not ready after {self.start_timeout:.0f} s"
                )
                self.stop()
                tail = "\n".join(self._tail) or "(no output)"
                raise EmulatorError(f"emulator on port {self.port} {reason}; log tail:\n{tail}")
        return self

    def _pump(self, ready: threading.Event) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._tail.append(line)
            if self._log is not None:
                self._log.write(raw)
                self._log.flush()
            if line.startswith(READY_PREFIX):
                ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if self._reader is not None:
            self._reader.join(timeout)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's shutdown: the server's request threads are daemons, and one
    # still writing when it runs makes CPython abort ("Fatal Python error: could not
    # acquire lock for <stdout> at interpreter shutdown").
    os._exit(code)
