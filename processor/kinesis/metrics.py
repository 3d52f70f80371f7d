"""Per-batch source metrics, and how the processor reads them from the query progress.

pyspark 4.3's Python data source API has no custom-metrics hook for streaming sources (its
``PythonMicroBatchStream`` does not implement Spark's ``ReportsSourceMetrics``, so a source's
``metrics`` map in the progress stays empty). What it does carry is ``reportLatestOffset()``,
which Spark calls right after planning each batch and prints as ``latestOffset`` of the source
in ``StreamingQueryProgress``. The source reports there the newest position it saw on every
shard together with the batch's metrics::

    "latestOffset": {"stream": "tx",
                     "shards": {"shardId-0": {"seq": "4959...", "millisBehindLatest": 0,
                                              "records": 2500, "bytes": 712000}},
                     "batch": {"records": 10000, "bytes": 2848000, "fetchMillis": 412, ...}}

:func:`from_progress` turns a progress (``query.lastProgress`` or a listener's
``event.progress``) back into :class:`BatchMetrics`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ShardMetrics:
    """One shard in one batch."""

    records: int = 0  # rows (user records)
    bytes: int = 0  # of the Kinesis records
    millis_behind_latest: int | None = None  # from the shard's last GetRecords; None: not read
    seq: str | None = None  # newest sequence number fetched so far


@dataclass(frozen=True)
class BatchMetrics:
    """What the driver fetched and admitted while planning one micro-batch."""

    records: int = 0  # rows admitted to the batch (user records, after de-aggregation)
    kinesis_records: int = 0  # Kinesis records admitted (aggregated records count once)
    bytes: int = 0  # data + partition keys admitted
    fetch_millis: int = 0  # wall time spent calling Kinesis while planning
    get_records_calls: int = 0
    throttles: int = 0  # ProvisionedThroughputExceeded answers (those shards backed off)
    iterator_refreshes: int = 0  # ExpiredIterator answers (iterators re-acquired)
    buffered_records: int = 0  # fetched but left for later batches (admission control)
    expired_shards: tuple[str, ...] = ()  # shards lost past retention (failOnDataLoss=false)
    shards: Mapping[str, ShardMetrics] = field(default_factory=dict)

    @property
    def max_millis_behind_latest(self) -> int | None:
        behind = [s.millis_behind_latest for s in self.shards.values()]
        known = [b for b in behind if b is not None]
        return max(known) if known else None

    def to_report(self, stream_name: str) -> dict[str, Any]:
        """The ``reportLatestOffset`` dict (JSON primitives only)."""
        batch = {
            "records": self.records,
            "kinesisRecords": self.kinesis_records,
            "bytes": self.bytes,
            "fetchMillis": self.fetch_millis,
            "getRecordsCalls": self.get_records_calls,
            "throttles": self.throttles,
            "iteratorRefreshes": self.iterator_refreshes,
            "bufferedRecords": self.buffered_records,
            "expiredShards": list(self.expired_shards),
        }
        shards = {
            sid: {
                "seq": m.seq,
                "millisBehindLatest": m.millis_behind_latest,
                "records": m.records,
                "bytes": m.bytes,
            }
            for sid, m in sorted(self.shards.items())
        }
        return {"stream": stream_name, "shards": shards, "batch": batch}

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> BatchMetrics:
        batch = report.get("batch", {})
        return cls(
            records=int(batch.get("records", 0)),
            kinesis_records=int(batch.get("kinesisRecords", 0)),
            bytes=int(batch.get("bytes", 0)),
            fetch_millis=int(batch.get("fetchMillis", 0)),
            get_records_calls=int(batch.get("getRecordsCalls", 0)),
            throttles=int(batch.get("throttles", 0)),
            iterator_refreshes=int(batch.get("iteratorRefreshes", 0)),
            buffered_records=int(batch.get("bufferedRecords", 0)),
            expired_shards=tuple(batch.get("expiredShards", ())),
            shards={
                sid: ShardMetrics(
                    records=int(m.get("records", 0)),
                    bytes=int(m.get("bytes", 0)),
                    millis_behind_latest=m.get("millisBehindLatest"),
                    seq=m.get("seq"),
                )
                for sid, m in report.get("shards", {}).items()
            },
        )


def from_progress(progress: Any) -> dict[str, BatchMetrics]:
    """Kinesis metrics of every Kinesis source in a streaming query progress, by stream name.

    ``progress`` is a ``StreamingQueryProgress``, its ``json`` string, or the dict of
    ``query.lastProgress``. Sources that are not Kinesis sources are skipped; a source reading
    several streams (the processor's) reports one such report per stream, by name.
    """
    if hasattr(progress, "json") and not isinstance(progress, Mapping):
        progress = progress.json
    if isinstance(progress, str):
        progress = json.loads(progress)
    found: dict[str, BatchMetrics] = {}
    for source in (progress or {}).get("sources", []):
        latest = source.get("latestOffset")
        if isinstance(latest, str):
            try:
                latest = json.loads(latest)
            except ValueError:
                continue
        if not isinstance(latest, Mapping):
            continue
        reports = [latest, *(v for v in latest.values() if isinstance(v, Mapping))]
        for report in reports:
            if "batch" in report and "stream" in report:
                found[str(report["stream"])] = BatchMetrics.from_report(report)
    return found
