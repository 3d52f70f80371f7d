"""Make moto's Kinesis fast enough to stand in for Kinesis: O(log n) per call, and cheap
responses.

moto 5.2.5 stores a shard's records in an insertion-ordered dict keyed by increasing sequence
number, then (a) finds the last sequence number on every put with
``list(self.records.keys())[-1]`` and (b) answers every GetRecords by scanning the shard from
its first record. Both make throughput fall as a shard fills (about 9k -> 135 records/s by 50k
records per shard). The patch keeps a sorted list of the shard's sequence numbers beside the
dict and answers with ``bisect``; results are moto's, except that a GetRecords answer stops at
10 MiB as AWS's does (moto returns all ``Limit`` records: up to 10,000 aggregated records of
~32 KB, the first read of a backlog could be hundreds of MiB, which no reader meets on AWS).

Second, moto 5.2.5 serialises every response through its generic, model-driven serializer,
which costs ~85 us per record of a PutRecords or GetRecords response (profiled: 70 % of the
time of a 500-record PutRecords). The two hot responses are written directly as the JSON the
Kinesis API returns; the shapes are those of botocore's Kinesis model.

Third, moto's server answers requests on several threads, and a put reads the last sequence
number then stores the record under the next one: two concurrent puts to one shard (the
producer and another writer) could take the same number, and the second record would replace
the first, silently. The patched put holds a lock from reading the number to storing the
record (the fault suite lost one transaction in 3,200 this way).

Fourth, AWS's per-shard limits (:mod:`fraudstream.stack.shard_limits`, on unless
``apply(shard_limits=False)``): a PutRecords record over its shard's 1,000 records/s or
1 MiB/s is refused inside the response with ``ProvisionedThroughputExceededException`` (and not
stored), as on AWS; a PutRecord over them, and a GetRecords over 5 calls/s or 2 MiB/s, fail as
a whole with that error.

Fifth, moto's server finds the service of every request by listing its own package folder
(``backends.list_of_moto_modules``: a ``listdir`` and ~175 ``stat`` calls, ~1.5 ms of CPU per
request, a third of a PutRecords of aggregated records); the list cannot change while the
server runs, so it is read once.

Sixth, moto writes the request id into every response by running a regular expression over
the whole body (``BaseResponse._enrich_response``), so a GetRecords answer of 400 KB was
scanned in Python on its way out: two thirds of the emulator's CPU while reading a stream.
Only an XML body holding ``<RequestId>`` can match; the others are passed through as they are.

Seventh, moto's S3 answers each ListObjectsV2 page at the cost of the whole bucket;
:mod:`fraudstream.stack.s3_listing` answers it at the cost of the page.

The patch is applied only inside the emulator process started by :mod:`fraudstream.stack`,
never to a user's moto in tests that mock AWS in-process.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from fraudstream.stack import s3_listing
from fraudstream.stack.shard_limits import GET_RESPONSE_MAX_BYTES, ShardLimits

_APPLIED = False
_PUT_LOCK = threading.Lock()  # one for all shards: a put holds it for microseconds
_LIMITS: ShardLimits | None = None  # set by apply(); None: AWS's per-shard limits are off
_ORIGINAL: dict[str, Callable[..., Any]] = {}


def _keys(shard: Any) -> list[int]:
    """The shard's sequence numbers, sorted; rebuilt only if something else changed the dict.

    moto replaces ``shard.records`` wholesale when it splits or merges shards, so the cache
    remembers which dict (and how many records) it describes.
    """
    records = shard.records
    cache = shard.__dict__.get("_fs_keys")
    if cache is None or cache[0] is not records or len(cache[1]) != len(records):
        cache = (records, sorted(records))
        shard.__dict__["_fs_keys"] = cache
    keys: list[int] = cache[1]
    return keys


def _put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
    from moto.kinesis.models import Record

    with _PUT_LOCK:  # the number taken and the record stored as one step (module docstring)
        keys = _keys(self)
        sequence_number = (keys[-1] if keys else 0) + 1
        record = Record(partition_key, data, sequence_number, explicit_hash_key)
        self.records[sequence_number] = record
        keys.append(sequence_number)
    return str(sequence_number)


def _get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
    keys = _keys(self)
    last = int(last_sequence_id)
    start = bisect_right(keys, last)
    stop = len(keys) if limit is None else min(len(keys), start + limit)
    results: list[Any] = []
    size = 0
    for key in keys[start:stop]:  # AWS answers at most 10 MiB, whatever the Limit
        record = self.records[key]
        size += _decoded_size(record.data) + len(record.partition_key)
        if results and size > GET_RESPONSE_MAX_BYTES:
            break
        results.append(record)
    millis_behind = 0
    if results:
        last = results[-1].sequence_number
        newest = self.records[keys[-1]]
        millis_behind = int((newest.created_at - results[-1].created_at) * 1000)
    return results, last, millis_behind


def _min_sequence(self: Any) -> int:
    keys = _keys(self)
    return keys[0] if keys else 0


def _max_sequence(self: Any) -> int:
    keys = _keys(self)
    return keys[-1] if keys else 0


def _sequence_at(self: Any, at_timestamp: float) -> int:
    """Sequence number of the last record created strictly before ``at_timestamp`` (0 if none).

    Records are created in sequence order, so their creation times are sorted too.
    """
    keys = _keys(self)
    index = bisect_left(keys, at_timestamp, key=lambda k: self.records[k].created_at)
    return keys[index - 1] if index else 0


def _shard_key(stream: Any, shard_id: str) -> tuple[str, str, str]:
    """A shard's budget key; a stream deleted and recreated under its name starts afresh."""
    return (stream.arn, str(stream.creation_datetime), shard_id)


def _throttled(stream: Any, shard_id: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(
        "ProvisionedThroughputExceededException",
        f"Rate exceeded for shard {shard_id} in stream {stream.stream_name} under account "
        f"{stream.account_id}.",
    )


def _decoded_size(data: str) -> int:
    """Bytes of a base64 text without decoding it."""
    return len(data) * 3 // 4 - (2 if data.endswith("==") else 1 if data.endswith("=") else 0)


def _limited_put_records(
    self: Any, stream_arn: str, stream_name: str, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """moto's PutRecords, each record first charged to its shard's budget (module docstring)."""
    limits = _LIMITS
    if limits is None:
        return _ORIGINAL["put_records"](self, stream_arn, stream_name, records)
    from moto.kinesis.exceptions import (
        RecordSizeExceedsLimit,
        TooManyRecords,
        TotalRecordsSizeExceedsLimit,
    )

    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    if len(records) > 500:
        raise TooManyRecords
    sizes = [_decoded_size(r.get("Data", "")) + len(r.get("PartitionKey", "")) for r in records]
    if sum(sizes) > 5 * 1024 * 1024:
        raise TotalRecordsSizeExceedsLimit
    over = next((i for i, size in enumerate(sizes) if size > 1024 * 1024), None)
    if over is not None:
        raise RecordSizeExceedsLimit(position=over + 1)
    results: list[dict[str, Any]] = []
    failed = stored_bytes = 0
    for record, size in zip(records, sizes, strict=True):
        key, explicit = record.get("PartitionKey"), record.get("ExplicitHashKey")
        shard = stream.get_shard_for_key(key, explicit)
        if not limits.admit_put(_shard_key(stream, shard.shard_id), size):
            failed += 1
            error = _throttled(stream, shard.shard_id)
            results.append(
                {"ErrorCode": error.error_type, "ErrorMessage": error.message}  # type: ignore[attr-defined]
            )
            continue
        sequence_number, shard_id = stream.put_record(key, explicit, record.get("Data"))
        results.append({"SequenceNumber": sequence_number, "ShardId": shard_id})
        stored_bytes += size
    self._send_stream_metrics(
        stream.stream_name, incoming_bytes=stored_bytes, incoming_records=len(records) - failed
    )
    return {"FailedRecordCount": failed, "Records": results}


def _limited_put_record(
    self: Any,
    stream_arn: str,
    stream_name: str,
    partition_key: str,
    explicit_hash_key: str,
    data: str,
) -> tuple[str, str]:
    if _LIMITS is not None:
        stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        shard = stream.get_shard_for_key(partition_key, explicit_hash_key)
        size = _decoded_size(data) + len(partition_key)
        if not _LIMITS.admit_put(_shard_key(stream, shard.shard_id), size):
            raise _throttled(stream, shard.shard_id)
    result: tuple[str, str] = _ORIGINAL["put_record"](
        self, stream_arn, stream_name, partition_key, explicit_hash_key, data
    )
    return result


def _put_records_response(self: Any) -> str:
    response = self.kinesis_backend.put_records(
        self._get_param("StreamARN"), self._get_param("StreamName"), self._get_param("Records")
    )
    return json.dumps(response)


def _get_records_response(self: Any) -> str:
    shard_iterator = self._get_param("ShardIterator")
    budget = None
    if _LIMITS is not None:
        from moto.kinesis.utils import decompose_shard_iterator

        stream_name, shard_id, _ = decompose_shard_iterator(shard_iterator)
        stream = self.kinesis_backend.describe_stream(
            stream_arn=self._get_param("StreamARN"), stream_name=stream_name
        )
        budget = _shard_key(stream, shard_id)
        if not _LIMITS.admit_get(budget):
            raise _throttled(stream, shard_id)
    iterator, records, millis_behind = self.kinesis_backend.get_records(
        self._get_param("StreamARN"), shard_iterator, self._get_param("Limit")
    )
    if _LIMITS is not None and budget is not None:
        _LIMITS.charge_read(
            budget, sum(_decoded_size(r.data) + len(r.partition_key) for r in records)
        )
    return json.dumps(
        {
            "NextShardIterator": iterator,
            "MillisBehindLatest": millis_behind,
            "Records": [
                {
                    "Data": record.data,  # stored as the base64 text the producer sent
                    "PartitionKey": record.partition_key,
                    "SequenceNumber": str(record.sequence_number),
                    "ApproximateArrivalTimestamp": record.created_at,
                }
                for record in records
            ],
        }
    )


def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto's own, after a check that its regular expression can match (module docstring)."""
    if isinstance(body, str) and "<RequestId>" in body:
        enriched: tuple[dict[str, str], Any] = _ORIGINAL["enrich_response"](headers, body)
        return enriched
    return _ORIGINAL["enrich_response"](headers, "")[0], body


def apply(*, shard_limits: bool = True) -> None:
    """Install the patch into moto's Kinesis classes (idempotent); ``shard_limits`` turns
    AWS's per-shard limits on or off (it may be changed by calling again)."""
    global _APPLIED, _LIMITS
    _LIMITS = ShardLimits() if shard_limits else None
    if _APPLIED:
        return
    from moto import backends
    from moto.kinesis import models

    s3_listing.apply()
    modules = tuple(backends.list_of_moto_modules())
    _ORIGINAL.setdefault("list_of_moto_modules", backends.list_of_moto_modules)
    backends.list_of_moto_modules = lambda: modules

    from moto.core.responses import BaseResponse

    _ORIGINAL.setdefault("enrich_response", BaseResponse._enrich_response)
    BaseResponse._enrich_response = staticmethod(_enrich_response)  # type: ignore[method-assign]

    _ORIGINAL.setdefault("put_records", models.KinesisBackend.put_records)
    _ORIGINAL.setdefault("put_record", models.KinesisBackend.put_record)
    setattr(models.KinesisBackend, "put_records", _limited_put_records)  # noqa: B010
    setattr(models.KinesisBackend, "put_record", _limited_put_record)  # noqa: B010

    replacements = {
        "put_record": _put_record,
        "get_records": _get_records,
        "get_min_sequence_number": _min_sequence,
        "get_max_sequence_number": _max_sequence,
        "get_sequence_number_at": _sequence_at,
    }
    for name, function in replacements.items():
        setattr(models.Shard, name, function)
    from moto.kinesis import responses

    setattr(responses.KinesisResponse, "put_records", _put_records_response)  # noqa: B010
    setattr(responses.KinesisResponse, "get_records", _get_records_response)  # noqa: B010
    _APPLIED = True
