"""Compaction: which hours are closed (pure), and a compaction running while the writer
commits loses and duplicates nothing (against the emulator)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraudstream import aws, lake_tables
from fraudstream.lake import maintenance
from fraudstream.lake.storage import LakeStore
from fraudstream.readback import lake_table
from fraudstream.settings import Settings
from processor.sinks.lake import LakeWriter

HOUR = datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_closed_partitions_are_ended_settled_and_worth_merging() -> None:
    files = [("2026-03-01", "09")] * 3 + [("2026-03-01", "10")] * 2 + [("2026-03-01", "08")]
    settle = timedelta(minutes=5)
    assert maintenance.hour_end("2026-03-01", "09") == HOUR
    # 10:04: hour 09 ended but has not settled; 10:05 it has; 08 has one file only.
    assert (
        maintenance.closed_partitions(files, now=HOUR + timedelta(minutes=4), settle=settle) == []
    )
    assert maintenance.closed_partitions(files, now=HOUR + settle, settle=settle) == [
        ("2026-03-01", "09")
    ]
    later = HOUR + timedelta(hours=1, minutes=5)
    assert maintenance.closed_partitions(files, now=later, settle=settle) == [
        ("2026-03-01", "09"),
        ("2026-03-01", "10"),
    ]


def _labels(batch: int, moment: datetime, count: int = 50) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"transaction_id": f"t{batch}-{i}", "is_fraud": False, "label_time": moment}
            for i in range(count)
        ],
        schema=lake_tables.arrow_schema("labels"),
    )


@pytest.mark.integration
def test_compaction_while_the_writer_commits_loses_and_duplicates_nothing(
    fresh_sinks: Settings,
) -> None:
    settings = fresh_sinks
    with LakeWriter(settings, query="q") as writer:
        for batch in range(12):  # hour 09: closes
            writer.write("labels", batch, _labels(batch, HOUR - timedelta(minutes=30)))
        stop = threading.Event()
        written = [12]

        def keep_writing() -> None:  # hour 10 and, late, hour 09 again
            while not stop.is_set() or written[0] < 24:
                batch = written[0]
                late = batch in (13, 20)  # a row past the watermark, as the sink writes it
                moment = HOUR - timedelta(minutes=1) if late else HOUR + timedelta(minutes=batch)
                writer.write("labels", batch, _labels(batch, moment))
                written[0] += 1
                time.sleep(0.1)  # ten commits a second: seven times the processor's rate

        thread = threading.Thread(target=keep_writing)
        thread.start()
        try:
            first = maintenance.compact_table(
                settings, "labels", now=HOUR + timedelta(minutes=10), settle=timedelta(minutes=5)
            )
        finally:
            stop.set()
            thread.join()
    assert first.partitions == 1 and first.files_added == 1 and first.files_removed >= 12
    stored = lake_table(settings, "labels")
    ids = stored.column("transaction_id")
    assert stored.num_rows == written[0] * 50
    assert pc.count_distinct(ids).as_py() == written[0] * 50

    # The late rows that arrived during compaction are still there; compact again, then with
    # no retention vacuum deletes the replaced files, and the rows are unchanged.
    again = maintenance.compact_table(
        settings,
        "labels",
        now=HOUR + timedelta(hours=2),
        settle=timedelta(minutes=5),
        retain=timedelta(0),
    )
    assert again.files_vacuumed >= 12
    stats = LakeStore.from_settings(settings).stats("labels")
    assert (stats.objects, stats.rows) == (2, written[0] * 50)
    keys = aws.client("s3", settings).list_objects_v2(Bucket=settings.bucket, Prefix="labels/dt=")
    assert len(keys["Contents"]) == 2  # only the compacted files are left
    assert lake_table(settings, "labels").num_rows == written[0] * 50
