"""Fault injection inside the emulator process: the one way the tests, ``make faults`` and
``fraudstream stack faults`` make real AWS calls fail.

A WSGI middleware in front of moto applies a :class:`FaultPlan`, an ordered list of
:class:`Fault` rules. The first rule that matches a call and fires (its ``probability``, from a
seeded random source so runs repeat; at most ``times`` calls) decides what happens to it:

- ``error``: an AWS error without reaching the server (JSON protocol for Kinesis and DynamoDB,
  e.g. ``ProvisionedThroughputExceededException``; S3's XML, e.g. ``503 SlowDown``);
- ``partial``: ``PutRecords`` or ``BatchWriteItem`` with each record or item withheld with
  chance ``fraction``: withheld ones are really not stored and come back failed
  (``FailedRecordCount``) or as ``UnprocessedItems``, as on AWS;
- ``disconnect``: the connection closes without an answer;
- ``answer_lost``: the call takes effect but the client gets ``500 InternalError``.

The plan is set at start-up from ``$FRAUDSTREAM_EMULATOR_FAULTS`` (JSON) or at run time with
``POST /_fraudstream/faults`` (:func:`set_faults`); ``GET`` (:func:`get_faults`) returns the plan
and, per rule name, what it injected (calls, or records and items for ``partial``).
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from http import HTTPStatus
from io import BytesIO
from typing import Any

CONTROL_PATH = "/_fraudstream/faults"
ENV_VAR = "FRAUDSTREAM_EMULATOR_FAULTS"
EFFECTS = ("error", "partial", "disconnect", "answer_lost")
PARTIAL_OPERATIONS = ("PutRecords", "BatchWriteItem")
THROTTLED = "ProvisionedThroughputExceededException"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Reply = tuple[str, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class Fault:
    """One rule: which calls it matches and what it does to them."""

    operation: str
    """A JSON-protocol operation (``PutRecords``, ``BatchWriteItem``, ``GetRecords``, ...) or
    ``s3:<METHOD>`` for S3 (``s3:PUT``)."""
    effect: str = "error"
    probability: float = 1.0
    fraction: float = 0.5
    """``partial`` only: the chance of each record or item to be withheld."""
    code: str = THROTTLED
    status: int = 400
    path: str = ""
    """A regular expression the request path must contain (S3 keys), empty for any."""
    times: int | None = None
    """At most this many calls changed; ``None`` for no limit."""
    name: str = ""
    """The key of its count in :func:`get_faults`; ``<operation>:<effect>`` if empty."""

    def __post_init__(self) -> None:
        if self.effect not in EFFECTS:
            raise ValueError(f"effect must be one of {', '.join(EFFECTS)}, got {self.effect!r}")
        for name in ("probability", "fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.effect == "partial" and self.operation not in PARTIAL_OPERATIONS:
            raise ValueError(f"partial applies to {' and '.join(PARTIAL_OPERATIONS)} only")
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must be >= 0, got {self.times}")
        re.compile(self.path)
        if not self.name:
            object.__setattr__(self, "name", f"{self.operation}:{self.effect}")

    def matches(self, target: str, method: str, path: str) -> bool:
        if self.operation.startswith("s3:"):
            wanted = not target and method == self.operation[3:]
            return wanted and (not self.path or re.search(self.path, path) is not None)
        return bool(target) and target.rsplit(".", 1)[-1] == self.operation


@dataclass(frozen=True)
class FaultPlan:
    """The rules, first match wins; an empty plan means a faithful emulator."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        data = json.loads(text or "{}")
        unknown = set(data) - {"faults", "seed"}
        known = {f.name for f in fields(Fault)}
        for rule in data.get("faults", []):
            unknown |= set(rule) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        rules = tuple(Fault(**rule) for rule in data.get("faults", []))
        return cls(rules, int(data.get("seed", 0)))

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def _json_error(target: str, code: str, status: int) -> Reply:
    body = json.dumps({"__type": code, "message": "injected by the fraudstream emulator"}).encode()
    headers = [("Content-Type", "application/x-amz-json-1.1")]
    if target.startswith("DynamoDB"):
        headers = [("Content-Type", "application/x-amz-json-1.0"), _crc32(body)]
    return _status(status), headers, body


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Injected"


def _s3_error(code: str, status: int) -> Reply:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        "<Message>injected by the fraudstream emulator</Message></Error>"
    ).encode()
    return _status(status), [("Content-Type", "application/xml")], body


def _crc32(body: bytes) -> tuple[str, str]:
    return "x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)


class FaultInjector:
    """WSGI middleware applying the current :class:`FaultPlan` to matching calls."""

    def __init__(self, app: WsgiApp, plan: FaultPlan | None = None) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.set_plan(plan or FaultPlan())

    def set_plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)
            self._fired: Counter[int] = Counter()
            self.injected: Counter[str] = Counter()

    def _choose(self, target: str, method: str, path: str) -> tuple[int, Fault] | None:
        """The first rule that matches, is still armed and fires, with its index; the call
        counts against its ``times`` (a ``partial`` rule gives it back if it withholds nothing)."""
        with self._lock:
            for index, fault in enumerate(self.plan.faults):
                armed = fault.times is None or self._fired[index] < fault.times
                matched = armed and fault.matches(target, method, path)
                if matched and self._rng.random() < fault.probability:
                    self._fired[index] += 1
                    return index, fault
        return None

    def _count(self, index: int, fault: Fault, units: int) -> None:
        with self._lock:
            if units:
                self.injected[fault.name] += units
            else:
                self._fired[index] -= 1

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            return self._control(environ, start_response)
        if not self.plan.faults:
            return self.app(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        chosen = self._choose(target, environ.get("REQUEST_METHOD", ""), path)
        if chosen is None:
            return self.app(environ, start_response)
        index, fault = chosen
        if fault.effect == "partial":
            return self._partial(index, fault, environ, start_response)
        self._count(index, fault, 1)
        if fault.effect == "disconnect":
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("connection closed by the fault plan")
        if fault.effect == "answer_lost":
            self._forward(environ, None)
            reply = _json_error(target, "InternalFailure", 500) if target else None
            return self._reply(start_response, *(reply or _s3_error("InternalError", 500)))
        error = _json_error(target, fault.code, fault.status) if target else None
        return self._reply(start_response, *(error or _s3_error(fault.code, fault.status)))

    def _partial(
        self, index: int, fault: Fault, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        request = json.loads(_read_body(environ) or b"{}")
        units = request.get("RequestItems") or {"": request.get("Records", [])}
        with self._lock:
            withheld = {
                (table, i)
                for table, writes in units.items()
                for i in range(len(writes))
                if self._rng.random() < fault.fraction
            }
        self._count(index, fault, len(withheld))
        if fault.operation == "PutRecords":
            reply = self._withhold_records(environ, request, withheld)
        else:
            reply = self._withhold_items(environ, request, withheld)
        return self._reply(start_response, *reply)

    def _withhold_records(
        self, environ: dict[str, Any], request: dict[str, Any], withheld: set[tuple[str, int]]
    ) -> Reply:
        records = request.get("Records", [])
        kept = [r for i, r in enumerate(records) if ("", i) not in withheld]
        status, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.1")]
        stored: list[dict[str, Any]] = []
        if kept:
            status, headers, payload = self._forward(environ, {**request, "Records": kept})
            if not status.startswith("200"):
                return status, headers, payload
            stored = json.loads(payload)["Records"]
        delivered = iter(stored)
        merged = [
            {"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded for shard (injected)"}
            if ("", i) in withheld
            else next(delivered)
            for i in range(len(records))
        ]
        failed = sum("ErrorCode" in r for r in merged)
        return _with_json(status, headers, {"FailedRecordCount": failed, "Records": merged})

    def _withhold_items(
        self, environ: dict[str, Any], request: dict[str, Any], withheld: set[tuple[str, int]]
    ) -> Reply:
        kept: dict[str, list[Any]] = {}
        unprocessed: dict[str, list[Any]] = {}
        for table, writes in request.get("RequestItems", {}).items():
            for i, write in enumerate(writes):
                (unprocessed if (table, i) in withheld else kept).setdefault(table, []).append(
                    write
                )
        status, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.0")]
        response: dict[str, Any] = {}
        if kept:
            status, headers, payload = self._forward(environ, {**request, "RequestItems": kept})
            if not status.startswith("200"):
                return status, headers, payload
            response = json.loads(payload)
        for table, writes in unprocessed.items():
            response.setdefault("UnprocessedItems", {}).setdefault(table, []).extend(writes)
        response.setdefault("UnprocessedItems", {})
        return _with_json(status, headers, response)

    # -- plumbing ----------------------------------------------------------------------------
    def _reply(
        self,
        start_response: StartResponse,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> list[bytes]:
        kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*kept, ("Content-Length", str(len(body)))])
        return [body]

    def _forward(self, environ: dict[str, Any], request: dict[str, Any] | None) -> Reply:
        """Call moto (with a replacement JSON body unless ``None``); its status, headers, body."""
        if request is not None:
            body = json.dumps(request).encode()
            environ = {**environ, "wsgi.input": BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured["status"], captured["headers"], payload

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        json_type = [("Content-Type", "application/json")]
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                self.set_plan(FaultPlan.from_json(_read_body(environ).decode()))
            except (ValueError, TypeError, re.error) as error:
                body = json.dumps({"error": str(error)}).encode()
                return self._reply(start_response, "400 Bad Request", json_type, body)
        with self._lock:
            status = {"plan": asdict(self.plan), "injected": dict(self.injected)}
        return self._reply(start_response, "200 OK", json_type, json.dumps(status).encode())


def _with_json(status: str, headers: list[tuple[str, str]], data: dict[str, Any]) -> Reply:
    body = json.dumps(data).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "x-amz-crc32")]
    return status, [*kept, _crc32(body)], body


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data: bytes = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
    return data


def set_faults(endpoint: str, plan: FaultPlan, timeout: float = 5.0) -> dict[str, Any]:
    """Set the emulator's fault plan over HTTP; returns the emulator's answer."""
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - loopback http
        endpoint + CONTROL_PATH,
        data=plan.to_json().encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def get_faults(endpoint: str, timeout: float = 5.0) -> dict[str, Any]:
    """The emulator's fault plan and, per rule, what it has injected so far."""
    import urllib.request

    with urllib.request.urlopen(endpoint + CONTROL_PATH, timeout=timeout) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer
