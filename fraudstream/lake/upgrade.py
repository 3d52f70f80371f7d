"""Turn a lake written in the old layout into Delta tables in place (``fraudstream lake upgrade``).

Before the table format, the processor wrote plain Parquet objects under
``<table>/dt=YYYY-MM-DD/hour=HH/batch-<id>-<part>.parquet`` and Athena found them through
partition projection. Conversion keeps every object where it is and writes a transaction log
that lists them (``deltalake``'s convert, Hive-style partitions), so the old rows stay
queryable. It then records the highest batch id in each table for the processor's query, as a
commit with only a ``txn`` action: if the processor, restarted on its old checkpoint, replays
its last batch, the writer recognises it instead of writing those rows a second time.
"""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from fraudstream import aws, lake_tables
from fraudstream.lake import delta_log, tables
from fraudstream.settings import Settings


def upgrade_table(settings: Settings, name: str, *, app_id: str) -> str:
    """Convert one table if it is in the old layout; a line saying what happened."""
    from deltalake import DeltaTable, Schema, convert_to_deltalake

    options = tables.storage_options(settings)
    uri = tables.table_uri(settings.bucket, name)
    if DeltaTable.is_deltatable(uri, options):
        return f"{name}: already a Delta table"
    s3 = aws.client("s3", settings)
    if not tables.has_legacy_objects(s3, settings.bucket, name):
        return f"{name}: no objects; the processor creates the table when it first writes"
    spec = lake_tables.table(name)
    convert_to_deltalake(
        uri,
        partition_by=Schema.from_arrow(
            pa.schema([pa.field(c, pa.string()) for c in delta_log.PARTITION_COLUMNS])
        ),
        partition_strategy="hive",
        name=name,
        description=spec.comment,
        configuration=tables.TABLE_PROPERTIES,
        storage_options=options,
    )
    table = DeltaTable(uri, storage_options=options)
    files = len(pa.table(table.get_add_actions()))
    batch_ids = table.to_pyarrow_dataset().to_table(columns=["batch_id"]).column("batch_id")
    highest = pc.max(batch_ids).as_py() if len(batch_ids) else None
    if highest is None:
        return f"{name}: converted {files} objects (no batch ids to record)"
    version = table.version() + 1
    s3.put_object(
        Bucket=settings.bucket,
        Key=delta_log.log_key(tables.table_prefix(name), version),
        Body=delta_log.append_commit(
            [], app_id=app_id, batch_id=int(highest), now_ms=int(time.time() * 1000)
        ),
        IfNoneMatch="*",
    )
    return f"{name}: converted {files} objects; batches up to {highest} recorded for {app_id}"


def upgrade_all(settings: Settings, *, query_id: str | None = None) -> list[str]:
    app_id = query_id or tables.default_app_id(settings)
    return [upgrade_table(settings, name, app_id=app_id) for name in lake_tables.table_names()]
