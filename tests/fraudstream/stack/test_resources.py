"""`ensure_resources` creates the lake's Glue database and tables from lake_tables.json."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from fraudstream import aws, lake_tables
from fraudstream.settings import Settings
from fraudstream.stack import resources


def test_table_input_follows_the_json_contract() -> None:
    for name in lake_tables.table_names():
        spec = lake_tables.table(name)
        table = resources.table_input(name, "my-lake")
        columns = table["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in columns] == [(c.name, c.type) for c in spec.columns]
        assert [p["Name"] for p in table["PartitionKeys"]] == ["dt", "hour"]
        assert table["StorageDescriptor"]["Location"] == f"s3://my-lake/{name}/"
        parameters = table["Parameters"]
        assert parameters["projection.enabled"] == "true"
        assert parameters["storage.location.template"] == (
            f"s3://my-lake/{name}/dt=${{dt}}/hour=${{hour}}/"
        )


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
    assert labels["Parameters"]["projection.dt.range"].endswith(",NOW")
