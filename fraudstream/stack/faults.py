"""Fault injection inside the emulator process, for reliability tests and `make faults`.

A WSGI middleware in front of moto that, according to a :class:`FaultPlan`, makes real calls
fail the way AWS does:

- ``PutRecords``: some records rejected with ``ProvisionedThroughputExceededException`` inside
  a successful response (they are *not* stored, as on AWS), or the whole call throttled;
- ``BatchWriteItem``: some items returned as ``UnprocessedItems`` (not written), or the call
  throttled;
- ``GetRecords``: the call throttled.

The plan is set at start-up from ``$FRAUDSTREAM_EMULATOR_FAULTS`` (JSON) or at run time with
``POST /_fraudstream/faults`` (JSON body); ``GET`` returns the plan and what was injected.
Choices come from a seeded random source, so a test run is repeatable.
"""

from __future__ import annotations

import json
import random
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from io import BytesIO
from typing import Any

CONTROL_PATH = "/_fraudstream/faults"
ENV_VAR = "FRAUDSTREAM_EMULATOR_FAULTS"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class FaultPlan:
    """Probabilities in [0, 1] of each injected failure; all zero means a faithful emulator."""

    put_records_fail_fraction: float = 0.0
    put_records_throttle_fraction: float = 0.0
    batch_write_unprocessed_fraction: float = 0.0
    batch_write_throttle_fraction: float = 0.0
    get_records_throttle_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "seed" and not 0.0 <= value <= 1.0:
                raise ValueError(f"{item.name} must be within [0, 1], got {value}")

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        data = json.loads(text or "{}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)


def _throttled(service: str) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps(
        {
            "__type": "ProvisionedThroughputExceededException",
            "message": f"Rate exceeded (injected by the fraudstream emulator, {service})",
        }
    ).encode()
    return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], body


class FaultInjector:
    """WSGI middleware applying the current :class:`FaultPlan` to matching calls."""

    def __init__(self, app: WsgiApp, plan: FaultPlan | None = None) -> None:
        self.app = app
        self.plan = plan or FaultPlan()
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(self.plan.seed)
        self._lock = threading.Lock()

    def set_plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)
            self.injected.clear()

    def _chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self._lock:
            return self._rng.random() < probability

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CONTROL_PATH:
            return self._control(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        plan = self.plan
        if target == "Kinesis_20131202.PutRecords":
            if self._chance(plan.put_records_throttle_fraction):
                return self._reply(
                    start_response, *_throttled("PutRecords"), "put_records_throttled"
                )
            if plan.put_records_fail_fraction > 0:
                return self._partial_put_records(environ, start_response)
        elif target == "Kinesis_20131202.GetRecords":
            if self._chance(plan.get_records_throttle_fraction):
                return self._reply(
                    start_response, *_throttled("GetRecords"), "get_records_throttled"
                )
        elif target == "DynamoDB_20120810.BatchWriteItem":
            if self._chance(plan.batch_write_throttle_fraction):
                return self._reply(
                    start_response, *_throttled("BatchWriteItem"), "batch_write_throttled"
                )
            if plan.batch_write_unprocessed_fraction > 0:
                return self._partial_batch_write(environ, start_response)
        return self.app(environ, start_response)

    # -- helpers -----------------------------------------------------------------------------
    def _reply(
        self,
        start_response: StartResponse,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes,
        counter: str | None = None,
    ) -> list[bytes]:
        if counter:
            with self._lock:
                self.injected[counter] += 1
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                self.set_plan(FaultPlan.from_json(_read_body(environ).decode()))
            except (ValueError, TypeError) as error:
                body = json.dumps({"error": str(error)}).encode()
                return self._reply(
                    start_response, "400 Bad Request", [("Content-Type", "application/json")], body
                )
        with self._lock:
            body = json.dumps({"plan": asdict(self.plan), "injected": dict(self.injected)}).encode()
        return self._reply(start_response, "200 OK", [("Content-Type", "application/json")], body)

    def _forward(
        self, environ: dict[str, Any], body: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Call moto with a replacement request body; return its status, headers and body."""
        environ = dict(environ)
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
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

    def _respond_json(
        self,
        start_response: StartResponse,
        status: str,
        headers: list[tuple[str, str]],
        data: dict[str, Any],
    ) -> list[bytes]:
        body = json.dumps(data).encode()
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "x-amz-crc32")]
        kept.append(("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)))
        return self._reply(start_response, status, kept, body)

    def _partial_put_records(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        request = json.loads(_read_body(environ))
        records = request.get("Records", [])
        failing = {
            i for i in range(len(records)) if self._chance(self.plan.put_records_fail_fraction)
        }
        if not failing:
            return self._respond_forwarded(environ, start_response, json.dumps(request).encode())
        kept = [r for i, r in enumerate(records) if i not in failing]
        results: list[dict[str, Any]] = []
        status, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.1")]
        if kept:
            status, headers, payload = self._forward(
                environ, json.dumps({**request, "Records": kept}).encode()
            )
            if not status.startswith("200"):
                return self._reply(start_response, status, headers, payload)
            results = json.loads(payload)["Records"]
        stored = iter(results)
        merged = [
            {
                "ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": "Rate exceeded for shard (injected by the fraudstream emulator)",
            }
            if i in failing
            else next(stored)
            for i in range(len(records))
        ]
        with self._lock:
            self.injected["put_records_failed_records"] += len(failing)
        return self._respond_json(
            start_response, status, headers, {"FailedRecordCount": len(failing), "Records": merged}
        )

    def _partial_batch_write(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        request = json.loads(_read_body(environ))
        kept: dict[str, list[Any]] = {}
        unprocessed: dict[str, list[Any]] = {}
        for table, items in request.get("RequestItems", {}).items():
            for item in items:
                bucket = (
                    unprocessed
                    if self._chance(self.plan.batch_write_unprocessed_fraction)
                    else kept
                )
                bucket.setdefault(table, []).append(item)
        if not unprocessed:
            return self._respond_forwarded(environ, start_response, json.dumps(request).encode())
        status, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.0")]
        response: dict[str, Any] = {"UnprocessedItems": {}}
        if kept:
            status, headers, payload = self._forward(
                environ, json.dumps({**request, "RequestItems": kept}).encode()
            )
            if not status.startswith("200"):
                return self._reply(start_response, status, headers, payload)
            response = json.loads(payload)
        response["UnprocessedItems"] = unprocessed
        with self._lock:
            self.injected["batch_write_unprocessed_items"] += sum(
                len(v) for v in unprocessed.values()
            )
        return self._respond_json(start_response, status, headers, response)

    def _respond_forwarded(
        self, environ: dict[str, Any], start_response: StartResponse, body: bytes
    ) -> list[bytes]:
        status, headers, payload = self._forward(environ, body)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return self._reply(start_response, status, headers, payload)


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data: bytes = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
    return data


def set_faults(endpoint: str, plan: FaultPlan, timeout: float = 5.0) -> dict[str, Any]:
    """Set the emulator's fault plan over HTTP; returns the emulator's answer."""
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - loopback http
        endpoint + CONTROL_PATH,
        data=json.dumps(asdict(plan)).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def get_faults(endpoint: str, timeout: float = 5.0) -> dict[str, Any]:
    """The emulator's fault plan and the count of failures injected so far."""
    import urllib.request

    with urllib.request.urlopen(endpoint + CONTROL_PATH, timeout=timeout) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer
