"""Telling a Delta table, an empty prefix and the old plain-object layout apart, on the emulator."""

from __future__ import annotations

import pytest

from fraudstream import aws
from fraudstream.lake import tables
from fraudstream.lake.errors import LegacyLayoutError
from fraudstream.settings import Settings

pytestmark = pytest.mark.integration

DATA_KEY = "transactions/dt=2026-11-22/hour=09/part-000000000001-0000.zstd.parquet"


def put(settings: Settings, key: str) -> None:
    aws.client("s3", settings).put_object(Bucket=settings.bucket, Key=key, Body=b"x")


def legacy(settings: Settings) -> bool:
    return tables.has_legacy_objects(aws.client("s3", settings), settings.bucket, "transactions")


def test_an_empty_prefix_is_no_table_and_not_the_old_layout(fresh_sinks: Settings) -> None:
    assert not legacy(fresh_sinks)
    assert tables.open_table(fresh_sinks, "transactions") is None


def test_objects_without_a_log_are_the_old_layout(fresh_sinks: Settings) -> None:
    put(fresh_sinks, DATA_KEY)
    assert legacy(fresh_sinks)
    with pytest.raises(LegacyLayoutError, match="fraudstream lake upgrade"):
        tables.open_table(fresh_sinks, "transactions")


def test_a_log_beside_data_files_is_a_table_whatever_the_listing_order(
    fresh_sinks: Settings,
) -> None:
    # What a reader finds when it looks while a writer creates the table: version 0 (listed
    # first, '_' sorts before 'dt=') beside the first batch's data, its commit not yet put.
    # Taking the first listed keys for the whole prefix once called this the old layout.
    tables.ensure_table(fresh_sinks, "transactions")
    put(fresh_sinks, DATA_KEY)
    assert not legacy(fresh_sinks)
    table = tables.open_table(fresh_sinks, "transactions")
    assert table is not None and table.version() == 0
