"""A fault-injecting HTTP proxy for tests against the local emulator.

Beside the emulator's own fault plan (:mod:`fraudstream.stack.faults`, switchable at run time
for a whole running stack), this proxy injects what the emulator cannot: S3 errors,
dropped connections, and faults limited to one client in one test.

The proxy sits in front of a real server (the emulator, LocalStack) and forwards every request
unchanged, except those a :class:`Fault` matches, which it answers with an AWS error or whose
request and response it rewrites. Point the code under test at :attr:`FaultProxy.url` (for
example ``settings.model_copy(update={"endpoint_url": proxy.url})``): it then meets genuine
partial failures over real HTTP instead of mocks.

Ready-made faults:

* :func:`aws_json_error` - a JSON-protocol error (DynamoDB, Kinesis), e.g. throttling:
  ``aws_json_error("DynamoDB_20120810.BatchWriteItem", "ProvisionedThroughputExceededException")``
* :func:`s3_error` - an S3 XML error such as ``503 SlowDown`` on matching requests
* :func:`unprocessed_items` - DynamoDB ``BatchWriteItem``: some items are withheld from the
  server and returned as ``UnprocessedItems`` (so they are really not written)
* :func:`failed_records` - Kinesis ``PutRecords``: some records are withheld and reported as
  failed with ``ProvisionedThroughputExceededException`` and a matching ``FailedRecordCount``
* :func:`disconnect` - close the connection without answering

Each fault fires with a ``probability`` (seeded, so runs repeat) and at most ``times`` times.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "content-length",
}


@dataclass
class ProxyRequest:
    """One request as the client sent it."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def target(self) -> str:
        """``X-Amz-Target`` of a JSON-protocol call, e.g. ``DynamoDB_20120810.BatchWriteItem``."""
        return self.header("X-Amz-Target") or ""

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def with_body(self, body: bytes) -> ProxyRequest:
        return ProxyRequest(self.method, self.path, self.headers, body)


@dataclass
class ProxyResponse:
    """A response to send back; ``None`` body with ``status == 0`` means drop the connection."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def with_json(self, data: Any) -> ProxyResponse:
        """This response with a new JSON body (and DynamoDB's CRC32 header recomputed)."""
        body = json.dumps(data).encode()
        headers = [(k, v) for k, v in self.headers if k.lower() != "x-amz-crc32"]
        if self.header("x-amz-crc32") is not None:
            headers.append(("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)))
        return ProxyResponse(self.status, headers, body)


Forward = Callable[[ProxyRequest], ProxyResponse]
Action = Callable[[ProxyRequest, Forward, random.Random], ProxyResponse]


@dataclass
class Fault:
    """When ``matches`` a request, ``action`` answers it (it may call ``forward`` itself)."""

    name: str
    matches: Callable[[ProxyRequest], bool]
    action: Action
    probability: float = 1.0
    times: int | None = None
    injected: int = field(default=0, init=False)

    def armed(self) -> bool:
        return self.times is None or self.injected < self.times


DISCONNECT = ProxyResponse(0, [], b"")


def target_is(operation: str) -> Callable[[ProxyRequest], bool]:
    """Match a JSON-protocol operation by its full ``X-Amz-Target`` or its operation name."""
    return lambda request: request.target == operation or request.target.endswith("." + operation)


def aws_json_error(
    operation: str,
    code: str,
    message: str = "injected by the fault proxy",
    *,
    status: int = 400,
    probability: float = 1.0,
    times: int | None = None,
) -> Fault:
    """Answer matching JSON-protocol calls with an AWS error (never reaching the server)."""

    def action(request: ProxyRequest, forward: Forward, rng: random.Random) -> ProxyResponse:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0")]
        if request.target.startswith("DynamoDB"):
            headers.append(("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)))
        return ProxyResponse(status, headers, body)

    return Fault(f"{operation}:{code}", target_is(operation), action, probability, times)


def s3_error(
    *,
    method: str = "PUT",
    path: str = r".*",
    code: str = "SlowDown",
    status: int = 503,
    message: str = "Please reduce your request rate.",
    probability: float = 1.0,
    times: int | None = None,
) -> Fault:
    """Answer S3 requests with ``method`` whose path matches the regex ``path`` with an error."""
    pattern = re.compile(path)

    def matches(request: ProxyRequest) -> bool:
        return (
            request.method == method and not request.target and bool(pattern.search(request.path))
        )

    def action(request: ProxyRequest, forward: Forward, rng: random.Random) -> ProxyResponse:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>fault</RequestId></Error>"
        ).encode()
        return ProxyResponse(status, [("Content-Type", "application/xml")], body)

    return Fault(f"s3:{method}:{code}", matches, action, probability, times)


def _withhold(items: list[Any], fraction: float, rng: random.Random) -> list[int]:
    """Indexes of the items to withhold: each with ``fraction`` chance, at least one."""
    if not items:
        return []
    chosen = [i for i in range(len(items)) if rng.random() < fraction]
    return chosen or [rng.randrange(len(items))]


def unprocessed_items(
    fraction: float = 0.5, *, probability: float = 1.0, times: int | None = None
) -> Fault:
    """DynamoDB BatchWriteItem: withhold some write requests and return them as unprocessed."""

    def action(request: ProxyRequest, forward: Forward, rng: random.Random) -> ProxyResponse:
        payload = request.json()
        kept: dict[str, list[Any]] = {}
        withheld: dict[str, list[Any]] = {}
        for table, writes in payload.get("RequestItems", {}).items():
            out = set(_withhold(writes, fraction, rng))
            kept_writes = [w for i, w in enumerate(writes) if i not in out]
            if kept_writes:
                kept[table] = kept_writes
            withheld[table] = [w for i, w in enumerate(writes) if i in out]
        if kept:
            response = forward(
                request.with_body(json.dumps({**payload, "RequestItems": kept}).encode())
            )
            if response.status != 200:
                return response
            data = response.json()
        else:
            response = ProxyResponse(
                200, [("Content-Type", "application/x-amz-json-1.0"), ("x-amz-crc32", "0")], b"{}"
            )
            data = {}
        unprocessed = data.get("UnprocessedItems") or {}
        for table, writes in withheld.items():
            unprocessed.setdefault(table, []).extend(writes)
        return response.with_json({**data, "UnprocessedItems": unprocessed})

    return Fault(
        "BatchWriteItem:UnprocessedItems", target_is("BatchWriteItem"), action, probability, times
    )


def failed_records(
    fraction: float = 0.5,
    *,
    code: str = "ProvisionedThroughputExceededException",
    probability: float = 1.0,
    times: int | None = None,
) -> Fault:
    """Kinesis PutRecords: withhold some records and report them failed, in request order."""

    def action(request: ProxyRequest, forward: Forward, rng: random.Random) -> ProxyResponse:
        payload = request.json()
        records = payload.get("Records", [])
        out = set(_withhold(records, fraction, rng))
        kept = [r for i, r in enumerate(records) if i not in out]
        results: list[dict[str, Any]] = []
        if kept:
            response = forward(request.with_body(json.dumps({**payload, "Records": kept}).encode()))
            if response.status != 200:
                return response
            data = response.json()
            results = list(data.get("Records", []))
        else:
            response = ProxyResponse(200, [("Content-Type", "application/x-amz-json-1.1")], b"{}")
            data = {}
        merged: list[dict[str, Any]] = []
        delivered = iter(results)
        for index in range(len(records)):
            if index in out:
                merged.append(
                    {"ErrorCode": code, "ErrorMessage": "Rate exceeded for shard (injected)"}
                )
            else:
                merged.append(next(delivered))
        failed = sum(1 for r in merged if "ErrorCode" in r)
        return response.with_json({**data, "FailedRecordCount": failed, "Records": merged})

    return Fault(
        "PutRecords:FailedRecordCount", target_is("PutRecords"), action, probability, times
    )


def disconnect(
    matches: Callable[[ProxyRequest], bool], *, probability: float = 1.0, times: int | None = None
) -> Fault:
    """Close the client's connection without an answer (the request never reaches the server)."""
    return Fault(
        "disconnect", matches, lambda request, forward, rng: DISCONNECT, probability, times
    )


class FaultProxy:
    """A threaded HTTP proxy on loopback in front of ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str, faults: list[Fault] | None = None, *, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.faults: list[Fault] = list(faults or [])
        self.requests: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def injected(self) -> dict[str, int]:
        """How many times each fault fired, by name."""
        with self._lock:
            counts: Counter[str] = Counter()
            for fault in self.faults:
                counts[fault.name] += fault.injected
            return dict(counts)

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------------------

    def _choose(self, request: ProxyRequest) -> tuple[Fault | None, random.Random]:
        with self._lock:
            self.requests[request.target or f"{request.method} s3"] += 1
            for fault in self.faults:
                fires = fault.armed() and fault.matches(request)
                if fires and self._rng.random() < fault.probability:
                    fault.injected += 1
                    return fault, random.Random(self._rng.random())
            return None, self._rng

    def _forward(self, request: ProxyRequest) -> ProxyResponse:
        connection = getattr(self._local, "connection", None)
        for attempt in range(2):
            if connection is None:
                connection = http.client.HTTPConnection(
                    self.upstream_host, self.upstream_port, timeout=60
                )
                self._local.connection = connection
            try:
                connection.putrequest(
                    request.method, request.path, skip_host=True, skip_accept_encoding=True
                )
                for name, value in request.headers:
                    if name.lower() not in _HOP_BY_HOP:
                        connection.putheader(name, value)
                connection.putheader("Content-Length", str(len(request.body)))
                connection.endheaders(request.body)
                reply = connection.getresponse()
                body = reply.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                connection = None
                self._local.connection = None
                if attempt:
                    raise
                continue
            headers = [
                (k, v)
                for k, v in reply.getheaders()
                if k.lower() not in _HOP_BY_HOP
                or (request.method == "HEAD" and k.lower() == "content-length")
            ]
            return ProxyResponse(reply.status, headers, body)
        raise AssertionError("unreachable")

    def _handle(self, request: ProxyRequest) -> ProxyResponse:
        fault, rng = self._choose(request)
        if fault is None:
            return self._forward(request)
        return fault.action(request, self._forward, rng)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _body(self) -> bytes:
                if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _serve(self) -> None:
                request = ProxyRequest(
                    self.command, self.path, list(self.headers.items()), self._body()
                )
                try:
                    response = proxy._handle(request)
                except (http.client.HTTPException, OSError) as error:
                    response = ProxyResponse(
                        502, [], f"fault proxy: upstream failed: {error}".encode()
                    )
                if response.status == 0:
                    self.close_connection = True
                    return
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                if response.header("Content-Length") is None:
                    self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _serve

        return Handler


@contextmanager
def fault_proxy(upstream: str, *faults: Fault, seed: int = 0) -> Iterator[FaultProxy]:
    """``with fault_proxy(settings.endpoint_url, unprocessed_items()) as proxy: ...``"""
    proxy = FaultProxy(upstream, list(faults), seed=seed).start()
    try:
        yield proxy
    finally:
        proxy.stop()
