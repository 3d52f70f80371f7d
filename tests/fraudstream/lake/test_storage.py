"""Which files make up a table version, and their schema, on Delta tables in a local folder.

The S3 path is exercised against the emulator in test_cli.py; these cases need no server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from fraudstream import lake_tables
from fraudstream.lake.errors import LakeReadError
from fraudstream.lake.storage import LakeStore


def _labels(count: int, batch: int, dt: str, hour: str) -> pa.Table:
    schema = lake_tables.arrow_schema("labels", with_partitions=True)
    when = datetime(2026, 1, 1, 5, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "transaction_id": f"t{batch}-{i}",
                "is_fraud": i == 0,
                "label_time": when,
                "batch_id": batch,
                "dt": dt,
                "hour": hour,
            }
            for i in range(count)
        ],
        schema=schema,
    )


def test_a_table_is_its_logged_files_with_the_lake_schema(tmp_path: Path) -> None:
    root = tmp_path / "bucket"
    table = str(root / "labels")
    write_deltalake(table, _labels(3, 1, "2026-01-01", "05"), partition_by=["dt", "hour"])
    write_deltalake(
        table, _labels(2, 2, "2026-01-02", "00"), partition_by=["dt", "hour"], mode="append"
    )
    store = LakeStore(str(root))
    listing = store.listing("labels")
    assert listing.version == 1
    assert [o.partition for o in listing.objects] == [("2026-01-01", "05"), ("2026-01-02", "00")]
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
    assert (stats.version, stats.objects, stats.rows, stats.partitions) == (1, 2, 5, 2)
    assert (stats.first_partition, stats.last_partition) == ("2026-01-01/05", "2026-01-02/00")
    assert stats.bytes == sum(o.size for o in listing.objects) > 0

    # Time travel: version 0 had the first batch only.
    past = LakeStore(str(root), as_of=0)
    assert past.stats("labels").rows == 3
    assert past.dataset("labels").count_rows() == 3

    empty = store.stats("aggregates")
    assert (empty.version, empty.objects, empty.rows, empty.first_partition) == (None, 0, 0, None)
    assert store.dataset("aggregates").schema.names[-2:] == ["dt", "hour"]


def test_a_version_that_does_not_exist_is_a_read_error(tmp_path: Path) -> None:
    write_deltalake(
        str(tmp_path / "labels"), _labels(1, 1, "2026-01-01", "05"), partition_by=["dt", "hour"]
    )
    with pytest.raises(LakeReadError, match="has no version as of 5"):
        LakeStore(str(tmp_path), as_of=5).listing("labels")


def test_the_cli_offers_exactly_the_lake_tables() -> None:
    from fraudstream.cli import lake as cli_lake

    assert lake_tables.table_names() == cli_lake._TABLES


class _HeadBucket:
    """An S3 client whose HeadBucket answers ``code``: the emulator enforces no IAM, so it
    cannot answer 403 as S3 does to a role whose s3:ListBucket is held to some prefixes."""

    def __init__(self, code: str) -> None:
        self.code = code

    def head_bucket(self, Bucket: str) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "HeadBucket")


def test_a_bucket_the_role_may_not_head_is_read_and_a_missing_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fraudstream import aws
    from fraudstream.errors import ResourceMissingError
    from fraudstream.settings import load_settings

    settings = load_settings(bucket="scoped-lake", endpoint_url="http://127.0.0.1:9")
    store = LakeStore.from_settings(settings)
    monkeypatch.setattr(aws, "client", lambda service, _settings: _HeadBucket("403"))
    store._check_bucket()  # no error: 403 means the bucket exists
    assert store._bucket_ok
    missing = LakeStore.from_settings(settings)
    monkeypatch.setattr(aws, "client", lambda service, _settings: _HeadBucket("404"))
    with pytest.raises(ResourceMissingError, match="not found"):
        missing._check_bucket()


def test_a_table_made_before_a_contract_column_gains_it(tmp_path: Path) -> None:
    from deltalake import DeltaTable

    from fraudstream.lake.tables import add_missing_columns

    contract = lake_tables.arrow_schema("transactions", with_partitions=True)
    older = pa.schema([f for f in contract if f.name != "anomaly_score"])
    DeltaTable.create(str(tmp_path), older, partition_by=["dt", "hour"])
    assert add_missing_columns(str(tmp_path), {}, "transactions") == ["anomaly_score"]
    field = DeltaTable(str(tmp_path)).schema().fields[-1]
    assert (field.name, field.nullable) == ("anomaly_score", True)
    assert add_missing_columns(str(tmp_path), {}, "transactions") == []  # once
