"""Make moto's Kinesis fast enough to stand in for Kinesis: O(log n) per call, and cheap
responses.

moto 5.2.5 stores a shard's records in an insertion-ordered dict keyed by increasing sequence
number, then (a) finds the last sequence number on every put with
``list(self.records.keys())[-1]`` and (b) answers every GetRecords by scanning the shard from
its first record. Both make throughput fall as a shard fills (about 9k -> 135 records/s by 50k
records per shard). The patch keeps a sorted list of the shard's sequence numbers beside the
dict and answers with ``bisect``; results are identical to moto's.

Second, moto 5.2.5 serialises every response through its generic, model-driven serializer,
which costs ~85 us per record of a PutRecords or GetRecords response (profiled: 70 % of the
time of a 500-record PutRecords). The two hot responses are written directly as the JSON the
Kinesis API returns; the shapes are those of botocore's Kinesis model.

Third, moto's server answers requests on several threads, and a put reads the last sequence
number then stores the record under the next one: two concurrent puts to one shard (the
producer and another writer) could take the same number, and the second record would replace
the first, silently. The patched put holds a lock from reading the number to storing the
record (the fault suite lost one transaction in 3,200 this way).

The patch is applied only inside the emulator process started by :mod:`fraudstream.stack`,
never to a user's moto in tests that mock AWS in-process.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_left, bisect_right
from typing import Any

_APPLIED = False
_PUT_LOCK = threading.Lock()  # one for all shards: a put holds it for microseconds


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
    results = [self.records[k] for k in keys[start:stop]]
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


def _put_records_response(self: Any) -> str:
    response = self.kinesis_backend.put_records(
        self._get_param("StreamARN"), self._get_param("StreamName"), self._get_param("Records")
    )
    return json.dumps(response)


def _get_records_response(self: Any) -> str:
    iterator, records, millis_behind = self.kinesis_backend.get_records(
        self._get_param("StreamARN"), self._get_param("ShardIterator"), self._get_param("Limit")
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


def apply() -> None:
    """Install the patch into moto's Kinesis ``Shard`` class (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    from moto.kinesis import models

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
