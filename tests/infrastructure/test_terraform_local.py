"""`terraform apply` and `destroy` of envs/local against a fresh emulator, and proof that it
creates the same streams, bucket, alerts table and Glue tables as `fraudstream stack up`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fraudstream import aws, lake_tables
from fraudstream.settings import Settings, load_settings
from fraudstream.stack import lifecycle
from fraudstream.stack.resources import ensure_resources
from tests.conftest import free_port
from tests.infrastructure.conftest import REPO, Terraform, output_of

pytestmark = [pytest.mark.infra, pytest.mark.integration, pytest.mark.slow]


def describe_data_plane(settings: Settings) -> dict[str, Any]:
    """What the platform relies on, read back from the endpoint, in a comparable form."""
    kinesis = aws.client("kinesis", settings)
    streams = {}
    for name in (settings.stream_name, settings.labels_stream_name):
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        streams[name] = {"shards": summary["OpenShardCount"], "status": summary["StreamStatus"]}

    s3 = aws.client("s3", settings)
    s3.head_bucket(Bucket=settings.bucket)

    dynamodb = aws.client("dynamodb", settings)
    table = dynamodb.describe_table(TableName=settings.alerts_table)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=settings.alerts_table)["TimeToLiveDescription"]

    glue = aws.client("glue", settings)
    database = lake_tables.database()
    tables = {}
    for item in glue.get_tables(DatabaseName=database)["TableList"]:
        descriptor = item["StorageDescriptor"]
        tables[item["Name"]] = {
            "columns": [(c["Name"], c["Type"]) for c in descriptor["Columns"]],
            "partition_keys": [(c["Name"], c["Type"]) for c in item["PartitionKeys"]],
            "location": descriptor["Location"],
            "input_format": descriptor["InputFormat"],
            "serde": descriptor["SerdeInfo"]["SerializationLibrary"],
            "serde_parameters": descriptor["SerdeInfo"].get("Parameters", {}),
            "parameters": item["Parameters"],
        }
    return {
        "streams": streams,
        "bucket": settings.bucket,
        "alerts_table": {
            "keys": [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]],
            "attributes": sorted(
                (a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]
            ),
            "billing": table["BillingModeSummary"]["BillingMode"],
            "indexes": sorted(
                (
                    i["IndexName"],
                    tuple((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]),
                    i["Projection"]["ProjectionType"],
                )
                for i in table.get("GlobalSecondaryIndexes") or []
            ),
            "ttl_attribute": ttl.get("AttributeName"),
        },
        "glue_tables": tables,
    }


@pytest.fixture
def bare_emulator(tmp_path: Path) -> Iterator[Settings]:
    """A fresh emulator process with no resources at all."""
    port = free_port()
    settings = load_settings(
        stack_port=port, endpoint_url=f"http://127.0.0.1:{port}", state_dir=tmp_path / "state"
    )
    lifecycle.start_emulator(settings)
    yield settings
    lifecycle.stop_emulator(settings)


def test_local_env_applies_the_same_data_plane_as_stack_up(
    terraform: Terraform, bare_emulator: Settings, local_stack: Settings, tmp_path: Path
) -> None:
    state = tmp_path / "local.tfstate"
    endpoint = f"-var=endpoint={bare_emulator.endpoint_url}"
    apply = terraform(
        "envs/local",
        "apply",
        "-auto-approve",
        "-no-color",
        f"-state={state}",
        endpoint,
        "-var=athena_named_queries=true",
    )
    assert apply.returncode == 0, output_of(apply)
    outputs = json.loads(terraform("envs/local", "output", "-json", f"-state={state}").stdout)

    by_terraform = describe_data_plane(bare_emulator)
    by_stack_up = describe_data_plane(local_stack)
    assert by_terraform == by_stack_up
    assert set(by_terraform["glue_tables"]) == set(lake_tables.table_names())
    assert [i[0] for i in by_terraform["alerts_table"]["indexes"]] == ["recent-by-decision"]
    transactions = by_terraform["glue_tables"]["transactions"]
    assert transactions["parameters"]["table_type"] == "DELTA"
    assert transactions["location"] == "s3://fraudstream-lake/transactions/"
    assert transactions["columns"][-2:] == [("dt", "string"), ("hour", "string")]
    assert outputs["settings_env"]["value"]["FRAUDSTREAM_STREAM_NAME"] == "transactions"

    # Terraform-only hardening the emulator records: KMS on the streams, versioning, TLS policy,
    # PITR, and the Athena workgroup with its named queries.
    kinesis = aws.client("kinesis", bare_emulator)
    summary = kinesis.describe_stream_summary(StreamName="transactions")
    assert summary["StreamDescriptionSummary"]["EncryptionType"] == "KMS"
    s3 = aws.client("s3", bare_emulator)
    assert s3.get_bucket_versioning(Bucket="fraudstream-lake")["Status"] == "Enabled"
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket="fraudstream-lake")["Policy"]
    dynamodb = aws.client("dynamodb", bare_emulator)
    backups = dynamodb.describe_continuous_backups(TableName="fraud-alerts")
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    athena = aws.client("athena", bare_emulator)
    queries = athena.list_named_queries(WorkGroup="fraudstream")["NamedQueryIds"]
    assert len(queries) == len(list((REPO / "fraudstream" / "lake" / "queries").glob("*.sql")))

    # `stack up` on top of Terraform's resources finds them and changes nothing it relies on.
    again = ensure_resources(bare_emulator)
    assert again.glue_tables == lake_tables.table_names()
    assert describe_data_plane(bare_emulator) == by_terraform

    # moto has no DeleteNamedQuery: forget the queries before destroying the rest.
    forget = terraform(
        "envs/local", "state", "rm", f"-state={state}", "module.lake.aws_athena_named_query.lake"
    )
    assert forget.returncode == 0, output_of(forget)
    destroy = terraform(
        "envs/local",
        "destroy",
        "-auto-approve",
        "-no-color",
        "-refresh=false",  # the state was just written; skip re-reading every resource
        f"-state={state}",
        endpoint,
    )
    assert destroy.returncode == 0, output_of(destroy)
    with pytest.raises(ClientError):
        aws.client("dynamodb", bare_emulator).describe_table(TableName="fraud-alerts")
    assert kinesis.list_streams()["StreamNames"] == []
