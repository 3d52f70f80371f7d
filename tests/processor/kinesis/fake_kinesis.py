"""A Kinesis double that follows AWS's documented behaviour, for tests and local experiments.

moto's emulator is faithful for ordinary reads but not for resharding (puts keep going to the
closed parent, which never ends). :class:`FakeKinesis` models what the Kinesis API reference
documents, as far as a consumer can observe it:

- Records route to the open shard whose hash key range holds MD5(partition key) (or the
  explicit hash key). Sequence numbers are 56-digit decimals, increasing within a shard.
- ``SplitShard`` / ``MergeShards`` close the parent(s) (``EndingSequenceNumber`` set) and
  create children with ``ParentShardId`` / ``AdjacentParentShardId``; new puts go to the
  children. A closed shard stays readable until it expires; ``GetRecords`` at its end returns
  no ``NextShardIterator`` and lists ``ChildShards``.
- ``MillisBehindLatest`` is 0 exactly when the response reaches the shard's tip.
- Shard iterators expire after five minutes (of the double's clock) with
  ``ExpiredIteratorException``; ``GetRecords`` returns at most ``Limit`` (<= 10,000) records.
- A deleted and recreated stream has the same ARN and a new creation timestamp.

Time comes from a replaceable clock (:class:`ManualClock` in tests). Faults are injected on
purpose: :meth:`FakeKinesis.throttle` (``ProvisionedThroughputExceeded``
for one shard), :meth:`FakeKinesis.fail` (any error code for an operation),
:meth:`FakeKinesis.expire_iterators`, and :meth:`FakeKinesis.expire_shard` (a shard aged past
retention). :attr:`FakeKinesis.calls` counts API calls per operation and shard.

Real boto3 clients talk to it over HTTP (the Kinesis JSON 1.1 protocol) through
:meth:`FakeKinesis.serve`, so code under test runs unchanged, in this process or in Spark's
workers, with ``endpoint_url`` pointing at the double.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HASH_MAX = 2**128 - 1
ITERATOR_TTL_S = 300.0
MAX_LIMIT = 10_000
ACCOUNT = "123456789012"
_SEQ_BASE = 49_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000


class ManualClock:
    """A replaceable clock: time moves only when a test (or a ``sleep``) moves it.

    Hand ``clock.time`` to :class:`FakeKinesis` and ``clock.monotonic`` / ``clock.wall_ms`` /
    ``clock.sleep`` to the planner, and both sides agree on what time it is.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def wall_ms(self) -> int:
        return int(self.now * 1000)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)

    advance = sleep


class KinesisFault(Exception):
    """An error the double answers with (``code`` becomes the JSON ``__type``)."""

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message or code
        self.status = status


@dataclass
class _Record:
    seq: int
    key: str
    data: bytes
    arrival: float  # epoch seconds


@dataclass
class _Shard:
    shard_id: str
    start_hash: int
    end_hash: int
    first_seq: int
    parents: tuple[str, ...] = ()
    records: list[_Record] = field(default_factory=list)
    ending_seq: int | None = None
    children: tuple[str, ...] = ()

    @property
    def closed(self) -> bool:
        return self.ending_seq is not None

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "ShardId": self.shard_id,
            "HashKeyRange": {
                "StartingHashKey": str(self.start_hash),
                "EndingHashKey": str(self.end_hash),
            },
            "SequenceNumberRange": {"StartingSequenceNumber": str(self.first_seq)},
        }
        if self.ending_seq is not None:
            info["SequenceNumberRange"]["EndingSequenceNumber"] = str(self.ending_seq)
        if self.parents:
            info["ParentShardId"] = self.parents[0]
        if len(self.parents) > 1:
            info["AdjacentParentShardId"] = self.parents[1]
        return info


@dataclass
class _Stream:
    name: str
    created: float
    generation: int
    shards: dict[str, _Shard] = field(default_factory=dict)
    next_index: int = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{self.name}"


class FakeKinesis:
    """An in-memory Kinesis service; thread-safe; see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.streams: dict[str, _Stream] = {}
        self.calls: Counter[tuple[str, str]] = Counter()  # (operation, shard id or "")
        self.list_page_size = 1000  # ListShards page size (AWS's default and maximum)
        self._lock = threading.RLock()
        self._generation = 0
        self._iterator_epoch = 0
        self._seq_counter = 0
        self._throttles: Counter[tuple[str, str]] = Counter()
        self._faults: dict[str, list[KinesisFault | None]] = {}

    # --- control (tests) ------------------------------------------------------------------

    def create_stream(self, name: str, shard_count: int) -> None:
        with self._lock:
            if name in self.streams:
                raise KinesisFault("ResourceInUseException", f"stream {name} exists")
            self._generation += 1
            stream = _Stream(name, self.clock(), self._generation)
            width = (HASH_MAX + 1) // shard_count
            for i in range(shard_count):
                end = HASH_MAX if i == shard_count - 1 else (i + 1) * width - 1
                self._new_shard(stream, i * width, end, ())
            self.streams[name] = stream

    def delete_stream(self, name: str) -> None:
        with self._lock:
            self._stream(name)
            del self.streams[name]

    def put(
        self, stream_name: str, key: str, data: bytes, explicit_hash_key: int | None = None
    ) -> tuple[str, str]:
        """Append one record; return (shard id, sequence number)."""
        with self._lock:
            stream = self._stream(stream_name)
            hashed = (
                explicit_hash_key
                if explicit_hash_key is not None
                else int(hashlib.md5(key.encode(), usedforsecurity=False).hexdigest(), 16)
            )
            for shard in stream.shards.values():
                if not shard.closed and shard.start_hash <= hashed <= shard.end_hash:
                    seq = self._next_seq(shard)
                    shard.records.append(_Record(seq, key, bytes(data), self.clock()))
                    return shard.shard_id, str(seq)
            raise AssertionError("hash key space not covered")  # pragma: no cover

    def split(self, stream_name: str, shard_id: str, new_starting_hash: int | None = None) -> None:
        """SplitShard: close ``shard_id``; two children cover its hash range."""
        with self._lock:
            stream = self._stream(stream_name)
            parent = self._open_shard(stream, shard_id)
            middle = new_starting_hash or (parent.start_hash + parent.end_hash + 1) // 2
            if not parent.start_hash < middle <= parent.end_hash:
                raise KinesisFault("InvalidArgumentException", "NewStartingHashKey out of range")
            self._close(parent)
            low = self._new_shard(stream, parent.start_hash, middle - 1, (shard_id,))
            high = self._new_shard(stream, middle, parent.end_hash, (shard_id,))
            parent.children = (low.shard_id, high.shard_id)

    def merge(self, stream_name: str, shard_id: str, adjacent_shard_id: str) -> None:
        """MergeShards: close two adjacent shards; one child covers both ranges."""
        with self._lock:
            stream = self._stream(stream_name)
            first = self._open_shard(stream, shard_id)
            second = self._open_shard(stream, adjacent_shard_id)
            low, high = sorted((first, second), key=lambda s: s.start_hash)
            if low.end_hash + 1 != high.start_hash:
                raise KinesisFault("InvalidArgumentException", "shards are not adjacent")
            self._close(first)
            self._close(second)
            child = self._new_shard(
                stream, low.start_hash, high.end_hash, (shard_id, adjacent_shard_id)
            )
            first.children = second.children = (child.shard_id,)

    def open_shards(self, stream_name: str) -> list[str]:
        with self._lock:
            return [s.shard_id for s in self._stream(stream_name).shards.values() if not s.closed]

    def throttle(self, stream_name: str, shard_id: str, times: int = 1) -> None:
        """Answer the next ``times`` GetRecords on the shard with a throughput error."""
        with self._lock:
            self._throttles[(stream_name, shard_id)] += times

    def fail(
        self, operation: str, code: str, times: int = 1, status: int = 400, after: int = 0
    ) -> None:
        """Answer ``times`` calls of ``operation`` (e.g. "GetRecords") with ``code``, once
        ``after`` more calls of it have been answered normally."""
        with self._lock:
            queue = self._faults.setdefault(operation, [])
            queue.extend([None] * after)
            queue.extend(KinesisFault(code, f"injected {code}", status) for _ in range(times))

    def expire_iterators(self) -> None:
        """Make every shard iterator issued so far expired."""
        with self._lock:
            self._iterator_epoch += 1

    def expire_shard(self, stream_name: str, shard_id: str) -> None:
        """The shard aged past retention: it and its records are gone."""
        with self._lock:
            del self._stream(stream_name).shards[shard_id]

    # --- API ------------------------------------------------------------------------------

    def handle(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one Kinesis API call (request and response as the JSON protocol has them)."""
        with self._lock:
            shard = str(body.get("ShardId", ""))
            if operation == "GetRecords":
                shard = self._decode_iterator(str(body.get("ShardIterator", "")))["shard"]
            self.calls[(operation, shard)] += 1
            faults = self._faults.get(operation)
            fault = faults.pop(0) if faults else None
            if fault is not None:
                raise fault
            handler = getattr(self, "_op_" + operation, None)
            if handler is None:
                raise KinesisFault("UnknownOperationException", operation)
            result: dict[str, Any] = handler(body)
            return result

    def _op_CreateStream(self, body: dict[str, Any]) -> dict[str, Any]:
        self.create_stream(body["StreamName"], int(body.get("ShardCount", 1)))
        return {}

    def _op_DeleteStream(self, body: dict[str, Any]) -> dict[str, Any]:
        self.delete_stream(body["StreamName"])
        return {}

    def _op_DescribeStreamSummary(self, body: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(body["StreamName"])
        return {
            "StreamDescriptionSummary": {
                "StreamName": stream.name,
                "StreamARN": stream.arn,
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                "RetentionPeriodHours": 24,
                "StreamCreationTimestamp": stream.created,
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
                "OpenShardCount": sum(1 for s in stream.shards.values() if not s.closed),
            }
        }

    def _op_ListShards(self, body: dict[str, Any]) -> dict[str, Any]:
        page = min(int(body.get("MaxResults", 1000)), self.list_page_size)
        if "NextToken" in body:
            token = json.loads(base64.b64decode(body["NextToken"]))
            name, offset = token["stream"], int(token["offset"])
        else:
            name, offset = body["StreamName"], 0
        shards = list(self._stream(name).shards.values())
        result: dict[str, Any] = {"Shards": [s.describe() for s in shards[offset : offset + page]]}
        if offset + page < len(shards):
            token = {"stream": name, "offset": offset + page}
            result["NextToken"] = base64.b64encode(json.dumps(token).encode()).decode()
        return result

    def _op_PutRecord(self, body: dict[str, Any]) -> dict[str, Any]:
        explicit = body.get("ExplicitHashKey")
        shard_id, seq = self.put(
            body["StreamName"],
            body["PartitionKey"],
            base64.b64decode(body["Data"]),
            None if explicit is None else int(explicit),
        )
        return {"ShardId": shard_id, "SequenceNumber": seq}

    def _op_PutRecords(self, body: dict[str, Any]) -> dict[str, Any]:
        results = []
        for entry in body["Records"]:
            explicit = entry.get("ExplicitHashKey")
            shard_id, seq = self.put(
                body["StreamName"],
                entry["PartitionKey"],
                base64.b64decode(entry["Data"]),
                None if explicit is None else int(explicit),
            )
            results.append({"ShardId": shard_id, "SequenceNumber": seq})
        return {"FailedRecordCount": 0, "Records": results}

    def _op_SplitShard(self, body: dict[str, Any]) -> dict[str, Any]:
        self.split(body["StreamName"], body["ShardToSplit"], int(body["NewStartingHashKey"]))
        return {}

    def _op_MergeShards(self, body: dict[str, Any]) -> dict[str, Any]:
        self.merge(body["StreamName"], body["ShardToMerge"], body["AdjacentShardToMerge"])
        return {}

    def _op_GetShardIterator(self, body: dict[str, Any]) -> dict[str, Any]:
        stream = self._stream(body["StreamName"])
        shard = self._shard(stream, body["ShardId"])
        kind = body["ShardIteratorType"]
        seqs = [r.seq for r in shard.records]
        if kind == "TRIM_HORIZON":
            index = 0
        elif kind == "LATEST":
            index = len(seqs)
        elif kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            wanted = int(body["StartingSequenceNumber"])
            if wanted not in seqs:
                raise KinesisFault(
                    "InvalidArgumentException",
                    f"StartingSequenceNumber {wanted} used in GetShardIterator on shard "
                    f"{shard.shard_id} in stream {stream.name} is invalid",
                )
            index = seqs.index(wanted) + (1 if kind == "AFTER_SEQUENCE_NUMBER" else 0)
        elif kind == "AT_TIMESTAMP":
            moment = float(body["Timestamp"])
            index = next((i for i, r in enumerate(shard.records) if r.arrival >= moment), len(seqs))
        else:
            raise KinesisFault("InvalidArgumentException", f"bad ShardIteratorType {kind}")
        return {"ShardIterator": self._iterator(stream, shard, index)}

    def _op_GetRecords(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = int(body.get("Limit", MAX_LIMIT))
        if not 1 <= limit <= MAX_LIMIT:
            raise KinesisFault("InvalidArgumentException", f"Limit {limit} not in 1..10000")
        token = self._decode_iterator(str(body["ShardIterator"]))
        stream = self.streams.get(token["stream"])
        if stream is None or stream.generation != token["generation"]:
            raise KinesisFault("ResourceNotFoundException", f"stream {token['stream']} not found")
        shard = self._shard(stream, token["shard"])
        expired = self.clock() - token["issued"] > ITERATOR_TTL_S
        if expired or token["epoch"] != self._iterator_epoch:
            raise KinesisFault("ExpiredIteratorException", "Iterator expired")
        if self._throttles[(stream.name, shard.shard_id)] > 0:
            self._throttles[(stream.name, shard.shard_id)] -= 1
            raise KinesisFault(
                "ProvisionedThroughputExceededException",
                f"Rate exceeded for shard {shard.shard_id} in stream {stream.name}",
            )
        index = int(token["index"])
        records = shard.records[index : index + limit]
        after = index + len(records)
        at_tip = after >= len(shard.records)
        result: dict[str, Any] = {
            "Records": [
                {
                    "SequenceNumber": str(r.seq),
                    "ApproximateArrivalTimestamp": r.arrival,
                    "Data": base64.b64encode(r.data).decode(),
                    "PartitionKey": r.key,
                }
                for r in records
            ],
            "MillisBehindLatest": 0
            if at_tip
            else max(1, int((shard.records[-1].arrival - shard.records[after].arrival) * 1000)),
        }
        if at_tip and shard.closed:
            result["ChildShards"] = [
                {
                    "ShardId": child,
                    "ParentShards": list(stream.shards[child].parents),
                    "HashKeyRange": stream.shards[child].describe()["HashKeyRange"],
                }
                for child in shard.children
                if child in stream.shards
            ]
        else:
            result["NextShardIterator"] = self._iterator(stream, shard, after)
        return result

    # --- internals ------------------------------------------------------------------------

    def _stream(self, name: str) -> _Stream:
        stream = self.streams.get(name)
        if stream is None:
            raise KinesisFault(
                "ResourceNotFoundException", f"Stream {name} under account {ACCOUNT} not found."
            )
        return stream

    def _shard(self, stream: _Stream, shard_id: str) -> _Shard:
        shard = stream.shards.get(shard_id)
        if shard is None:
            raise KinesisFault(
                "ResourceNotFoundException", f"Shard {shard_id} in stream {stream.name} not found"
            )
        return shard

    def _open_shard(self, stream: _Stream, shard_id: str) -> _Shard:
        shard = self._shard(stream, shard_id)
        if shard.closed:
            raise KinesisFault("ResourceInUseException", f"shard {shard_id} is closed")
        return shard

    def _new_shard(self, stream: _Stream, start: int, end: int, parents: tuple[str, ...]) -> _Shard:
        shard_id = f"shardId-{stream.next_index:012d}"
        stream.next_index += 1
        shard = _Shard(shard_id, start, end, self._next_seq(None), parents)
        stream.shards[shard_id] = shard
        return shard

    def _close(self, shard: _Shard) -> None:
        shard.ending_seq = self._next_seq(shard)

    def _next_seq(self, shard: _Shard | None) -> int:
        # Global and increasing, with gaps, like real sequence numbers (56 digits).
        self._seq_counter += 1
        return _SEQ_BASE + self._seq_counter * 10_000 + 7

    def _iterator(self, stream: _Stream, shard: _Shard, index: int) -> str:
        token = {
            "stream": stream.name,
            "generation": stream.generation,
            "shard": shard.shard_id,
            "index": index,
            "issued": self.clock(),
            "epoch": self._iterator_epoch,
        }
        return base64.b64encode(json.dumps(token).encode()).decode()

    def _decode_iterator(self, iterator: str) -> dict[str, Any]:
        try:
            token: dict[str, Any] = json.loads(base64.b64decode(iterator))
            if not isinstance(token, dict) or "shard" not in token:
                raise ValueError("not an iterator")
        except (ValueError, TypeError):
            raise KinesisFault("InvalidArgumentException", "invalid ShardIterator") from None
        return token

    # --- HTTP front end -------------------------------------------------------------------

    @contextmanager
    def serve(self, host: str = "127.0.0.1") -> Iterator[str]:
        """Serve the Kinesis JSON protocol on a free port; yield the endpoint URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                target = self.headers.get("X-Amz-Target", "")
                operation = target.rsplit(".", 1)[-1]
                try:
                    status, payload = 200, fake.handle(operation, json.loads(raw or b"{}"))
                except KinesisFault as fault:
                    status = fault.status
                    payload = {"__type": fault.code, "message": fault.message}
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", "fake")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((host, 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="fake-kinesis", daemon=True)
        thread.start()
        try:
            yield f"http://{host}:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
