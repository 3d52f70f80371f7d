"""Which objects make up a table, and their schema, on a real (local) pyarrow filesystem.

The S3 path is exercised against the emulator in test_cli.py; these cases need no server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from fraudstream import lake_tables
from fraudstream.errors import ResourceMissingError
from fraudstream.lake.storage import LakeStore, partition_of


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("dt=2026-01-01/hour=05/batch-1.parquet", ("2026-01-01", "05")),
        ("dt=2026-01-01/hour=05/_SUCCESS", None),
        ("dt=2026-01-01/hour=05/.part.crc", None),
        ("stray.parquet", None),
        ("dt=2026-01-01/batch-1.parquet", None),
        ("hour=05/dt=2026-01-01/batch-1.parquet", None),
        ("dt=/hour=05/batch-1.parquet", None),
        ("dt=2026-01-01/hour=05/x/batch-1.parquet", None),
    ],
)
def test_partition_of_follows_the_table_layout(path: str, expected: tuple[str, ...] | None) -> None:
    assert partition_of(path, ["dt", "hour"]) == expected


def _labels(count: int, batch: int) -> pa.Table:
    schema = lake_tables.arrow_schema("labels")
    when = datetime(2026, 1, 1, 5, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "transaction_id": f"t{batch}-{i}",
                "is_fraud": i == 0,
                "label_time": when,
                "batch_id": batch,
            }
            for i in range(count)
        ],
        schema=schema,
    )


def test_a_table_is_its_partitioned_objects_with_the_lake_schema(tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    first = bucket / "labels" / "dt=2026-01-01" / "hour=05"
    second = bucket / "labels" / "dt=2026-01-02" / "hour=00"
    for folder in (first, second):
        folder.mkdir(parents=True)
    pq.write_table(_labels(3, 1), first / "batch-1.parquet")
    # An older writer's file without the newer columns: read with nulls, as Athena would.
    pq.write_table(_labels(2, 2).drop_columns(["scenario"]), second / "batch-2.parquet")
    (first / "_SUCCESS").write_text("")
    pq.write_table(_labels(5, 9), bucket / "labels" / "stray.parquet")

    store = LakeStore(pafs.LocalFileSystem(), str(bucket))
    listing = store.listing("labels")
    assert [o.partition for o in listing.objects] == [("2026-01-01", "05"), ("2026-01-02", "00")]
    assert listing.skipped == 2
    data = store.dataset("labels").to_table()
    assert data.schema == lake_tables.arrow_schema("labels", with_partitions=True)
    assert sorted(zip(data["dt"].to_pylist(), data["transaction_id"].to_pylist(), strict=True)) == [
        ("2026-01-01", "t1-0"),
        ("2026-01-01", "t1-1"),
        ("2026-01-01", "t1-2"),
        ("2026-01-02", "t2-0"),
        ("2026-01-02", "t2-1"),
    ]
    stats = store.stats("labels")
    assert (stats.objects, stats.rows, stats.partitions) == (2, 5, 2)
    assert (stats.first_partition, stats.last_partition) == ("2026-01-01/05", "2026-01-02/00")
    assert stats.bytes == sum(o.size for o in listing.objects) > 0

    empty = store.stats("aggregates")
    assert (empty.objects, empty.rows, empty.partitions, empty.first_partition) == (0, 0, 0, None)
    assert store.dataset("aggregates").schema.names[-2:] == ["dt", "hour"]


def test_a_missing_bucket_is_an_error_not_an_empty_lake(tmp_path: Path) -> None:
    store = LakeStore(pafs.LocalFileSystem(), str(tmp_path / "absent"), where="here")
    with pytest.raises(ResourceMissingError, match=r"lake bucket .*absent' not found at here"):
        store.listing("transactions")
