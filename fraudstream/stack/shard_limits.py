"""AWS's per-shard Kinesis limits, as the local emulator enforces them: pure logic, no I/O.

A provisioned shard takes at most 1,000 records and 1 MiB (data plus partition key) of puts a
second, and serves at most 5 GetRecords calls and 2 MiB a second. AWS answers the excess with
``ProvisionedThroughputExceededException``: per record inside a successful PutRecords
response, for the whole call on GetRecords. Without these limits the emulator accepts 25,000
records/s on 4 shards where AWS would take 4,000, and local benchmarks would promise what AWS
does not give.

Each limit is a token bucket refilled continuously at the limit's rate and holding at most one
second of it, so a shard can absorb a one-second burst and sustains exactly the rate. Reads
follow AWS's documented rule for bytes: one GetRecords may return more than the shard's
2 MiB/s (up to 10 MiB), and the shard then refuses calls until the debt is paid back (a
10 MiB read blocks the next five seconds). GetShardIterator's own limit (5/s) is not enforced.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

PUT_RECORDS_PER_S = 1_000
PUT_BYTES_PER_S = 1024 * 1024
GET_CALLS_PER_S = 5
GET_BYTES_PER_S = 2 * 1024 * 1024
#: One GetRecords answer holds at most 10 MiB, whatever its Limit (an API rule, not a throughput
#: limit: the emulator keeps it with the limits off too).
GET_RESPONSE_MAX_BYTES = 10 * 1024 * 1024


@dataclass
class _Bucket:
    rate: float
    tokens: float
    at: float

    def refill(self, now: float) -> float:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return self.tokens


@dataclass
class _Shard:
    put_records: _Bucket
    put_bytes: _Bucket
    get_calls: _Bucket
    get_bytes: _Bucket


class ShardLimits:
    """Per-shard put and read budgets; thread-safe (the emulator serves calls in threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._shards: dict[Hashable, _Shard] = {}
        self._lock = threading.Lock()

    def _shard(self, key: Hashable, now: float) -> _Shard:
        shard = self._shards.get(key)
        if shard is None:
            shard = self._shards[key] = _Shard(
                _Bucket(PUT_RECORDS_PER_S, PUT_RECORDS_PER_S, now),
                _Bucket(PUT_BYTES_PER_S, PUT_BYTES_PER_S, now),
                _Bucket(GET_CALLS_PER_S, GET_CALLS_PER_S, now),
                _Bucket(GET_BYTES_PER_S, GET_BYTES_PER_S, now),
            )
        return shard

    def admit_put(self, key: Hashable, size: int) -> bool:
        """Take one record of ``size`` bytes (data + partition key) from the shard's budget;
        False (and nothing taken) when either budget lacks room."""
        with self._lock:
            now = self.clock()
            shard = self._shard(key, now)
            if shard.put_records.refill(now) < 1 or shard.put_bytes.refill(now) < size:
                return False
            shard.put_records.tokens -= 1
            shard.put_bytes.tokens -= size
            return True

    def admit_get(self, key: Hashable) -> bool:
        """Take one GetRecords call; False when the shard is over 5 calls/s or still paying
        back bytes it served beyond 2 MiB/s."""
        with self._lock:
            now = self.clock()
            shard = self._shard(key, now)
            if shard.get_calls.refill(now) < 1 or shard.get_bytes.refill(now) < 0:
                return False
            shard.get_calls.tokens -= 1
            return True

    def charge_read(self, key: Hashable, size: int) -> None:
        """Count ``size`` bytes served by an admitted GetRecords (may leave the shard in debt)."""
        with self._lock:
            now = self.clock()
            shard = self._shard(key, now)
            shard.get_bytes.refill(now)
            shard.get_bytes.tokens -= size
