"""`ensure_resources` creates the lake's Glue database and tables from lake_tables.json."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from fraudstream import aws, lake_tables
from fraudstream.lake.tables import open_table
from fraudstream.settings import Settings
from fraudstream.stack import resources


def test_table_input_follows_the_json_contract() -> None:
    for name in lake_tables.table_names():
        spec = lake_tables.table(name)
        table = resources.table_input(name, "my-lake")
        columns = table["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in columns] == [
            (c.name, c.type) for c in spec.columns + spec.partition_keys
        ]
        assert columns[-2:] == [
            {"Name": "dt", "Type": "string", "Comment": spec.partition_keys[0].comment},
            {"Name": "hour", "Type": "string", "Comment": spec.partition_keys[1].comment},
        ]
        assert table["PartitionKeys"] == []  # partitions come from the Delta log
        assert table["StorageDescriptor"]["Location"] == f"s3://my-lake/{name}/"
        assert table["Parameters"]["table_type"] == "DELTA"
        serde = table["StorageDescriptor"]["SerdeInfo"]["Parameters"]
        assert serde["path"] == f"s3://my-lake/{name}/"


def _error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "CreateDatabase",
    )


def test_only_a_missing_glue_service_is_tolerated() -> None:
    assert resources._glue_unavailable(_error("InternalFailure", 501))
    assert resources._glue_unavailable(_error("NotImplemented", 400))
    assert not resources._glue_unavailable(_error("AccessDeniedException", 400))


@pytest.mark.integration
def test_stack_up_creates_glue_tables_idempotently(local_stack: Settings) -> None:
    glue = aws.client("glue", local_stack)
    database = lake_tables.database()
    names = {t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert names == set(lake_tables.table_names())

    # A drifted table is put back; a second call changes nothing else.
    glue.update_table(
        DatabaseName=database,
        TableInput={**resources.table_input("labels", local_stack.bucket), "Parameters": {}},
    )
    again = resources.ensure_resources(local_stack)
    assert again.glue_database == database
    assert again.glue_tables == lake_tables.table_names()
    labels = glue.get_table(DatabaseName=database, Name="labels")["Table"]
    assert labels["Parameters"]["table_type"] == "DELTA"
    # ... and each Glue table's location holds a Delta table from the start.
    for name in lake_tables.table_names():
        table = open_table(local_stack, name)
        assert table is not None and table.version() >= 0


@pytest.mark.integration
def test_a_lake_in_the_old_layout_is_left_alone_with_a_warning(
    fresh_sinks: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    key = "labels/dt=2026-01-01/hour=00/batch-000000000001-0000.parquet"
    aws.client("s3", fresh_sinks).put_object(Bucket=fresh_sinks.bucket, Key=key, Body=b"old")
    resources._ensure_lake_tables(fresh_sinks)
    assert "lake table labels not created" in caplog.text and "lake upgrade" in caplog.text
    assert open_table(fresh_sinks, "transactions") is not None  # the others were created
    listing = aws.client("s3", fresh_sinks).list_objects_v2(
        Bucket=fresh_sinks.bucket, Prefix="labels/"
    )
    assert [o["Key"] for o in listing["Contents"]] == [key]
