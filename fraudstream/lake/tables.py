"""The lake's tables as Delta tables on S3, through the ``deltalake`` library: where each one
lives, the options that point the library at the same endpoint and credentials as boto3,
creating a table, and opening one at its latest version or as of a time.

A table lives at ``s3://<bucket>/<prefix>`` (``transactions/`` ...): data files under
``dt=YYYY-MM-DD/hour=HH/``, the transaction log under ``_delta_log/``. Its schema is
:func:`fraudstream.lake_tables.arrow_schema` plus the string partition columns ``dt`` and
``hour``. A prefix that holds Parquet objects but no log was written by the plain-object lake
before the table format; nothing creates a table over it (compaction would delete those objects
as unreferenced): :class:`LegacyLayoutError` says to run ``fraudstream lake upgrade``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from botocore.exceptions import ClientError

from fraudstream import aws, lake_tables
from fraudstream.lake.delta_log import LOG_FOLDER, PARTITION_COLUMNS
from fraudstream.lake.errors import LakeReadError, LegacyLayoutError
from fraudstream.settings import Settings

if TYPE_CHECKING:
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = 100
"""Commits between checkpoints: a reader replays at most this many JSON commits."""
HISTORY_HOURS = 48
"""How far back ``--as-of`` reaches: log entries and replaced files are kept this long."""
TABLE_PROPERTIES = {
    "delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
    "delta.logRetentionDuration": f"interval {HISTORY_HOURS} hours",
    "delta.deletedFileRetentionDuration": f"interval {HISTORY_HOURS} hours",
}


SPARK_QUERY_FOLDER = "query"
"""The Spark checkpoint under ``settings.checkpoint_dir`` (see processor/streaming_job.py)."""


def spark_query_id(settings: Settings) -> str | None:
    """The id Spark gave the streaming query, from its checkpoint's ``metadata`` file (None
    before the query first started). It survives restarts from the same checkpoint and is new
    for a new checkpoint, whose batch ids start again at 0: the right key for the lake's
    application transactions."""
    location = settings.checkpoint_dir.rstrip("/") + "/" + SPARK_QUERY_FOLDER + "/metadata"
    s3_object = aws.s3_location(location)
    try:
        if s3_object is not None:
            s3 = aws.client("s3", settings)
            text = s3.get_object(Bucket=s3_object[0], Key=s3_object[1])["Body"].read()
        else:
            text = Path(location).read_bytes()
    except (OSError, ClientError):
        return None
    try:
        found = json.loads(text).get("id")
    except (ValueError, AttributeError):
        return None
    return str(found) if found else None


def default_app_id(settings: Settings) -> str:
    """The application id the processor's commits record: the Spark query's id, or, where no
    Spark query ever ran on this checkpoint (tests and benchmarks driving the sink), one
    derived from the checkpoint's location."""
    return spark_query_id(settings) or f"fraudstream:{settings.checkpoint_dir}"


def table_prefix(name: str) -> str:
    """The key prefix of table ``name`` in the bucket, ending in ``/``."""
    return lake_tables.table(name).prefix


def table_uri(bucket: str, name: str) -> str:
    return f"s3://{bucket}/{table_prefix(name).rstrip('/')}"


def storage_options(settings: Settings) -> dict[str, str]:
    """deltalake's S3 options: the endpoint, region and credentials boto3 resolves now, and
    conditional puts, which make a commit's ``put`` fail when the version already exists."""
    options = {
        "AWS_REGION": settings.region,
        "AWS_CONDITIONAL_PUT": "etag",
        "timeout": "60s",  # per request; the library retries on its own within retry_timeout
        "connect_timeout": "5s",
        "retry_timeout": "60s",
    }
    endpoint = aws.endpoint_for("s3", settings)
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    credentials = aws.session(settings).get_credentials()
    if credentials is not None:  # else the library's own chain (instance role, web identity)
        frozen = credentials.get_frozen_credentials()
        options["AWS_ACCESS_KEY_ID"] = frozen.access_key
        options["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
        if frozen.token:
            options["AWS_SESSION_TOKEN"] = frozen.token
    return options


def has_legacy_objects(s3: Any, bucket: str, name: str) -> bool:
    """True when the table's prefix holds objects but no transaction log."""
    return _layout(s3, bucket, name) == "legacy"


def _layout(s3: Any, bucket: str, name: str) -> str:
    """What the table's prefix holds: "empty", "delta" (a transaction log) or "legacy" (objects
    and no log). Asks for any object first and for the log second: writers put the log's
    version 0 before any data file and never remove the whole log, so a table another process
    creates between the two listings reads as "delta", never as the old layout."""
    prefix = table_prefix(name)
    if not _holds_any(s3, bucket, prefix):
        return "empty"
    return "delta" if _holds_any(s3, bucket, f"{prefix}{LOG_FOLDER}/") else "legacy"


def _holds_any(s3: Any, bucket: str, prefix: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0))


def _legacy(bucket: str, name: str) -> LegacyLayoutError:
    return LegacyLayoutError(
        f"s3://{bucket}/{table_prefix(name)} holds Parquet objects of the old plain-object lake "
        "but no Delta log: run `fraudstream lake upgrade` once (docs/lake.md, 'Upgrading')"
    )


def add_missing_columns(uri: str, options: dict[str, str], name: str) -> list[str]:
    """Add to the Delta table at ``uri`` the columns of ``lake_tables.json`` it lacks (a
    column added to the contract after the table was created), nullable, older rows reading
    null; the names added. Columns are only ever added: never dropped, renamed or retyped."""
    from deltalake import DeltaTable, Schema

    table = DeltaTable(uri, storage_options=options)
    have = {field.name for field in table.schema().fields}
    contract = lake_tables.arrow_schema(name, with_partitions=True)
    missing = [field for field in contract if field.name not in have]
    if missing:
        try:
            table.alter.add_columns(list(Schema.from_arrow(pa.schema(missing)).fields))
        except Exception:  # another process added them first: its commit won the put
            table = DeltaTable(uri, storage_options=options)
            if not {f.name for f in missing} <= {f.name for f in table.schema().fields}:
                raise
            return []
        log.info("lake table %s: added column(s) %s", name, ", ".join(f.name for f in missing))
    return [field.name for field in missing]


def ensure_table(settings: Settings, name: str, *, s3: Any | None = None) -> None:
    """Create table ``name`` (empty, partitioned by dt/hour) unless it exists, else add the
    contract's columns it lacks (:func:`add_missing_columns`); safe to race."""
    from deltalake import CommitProperties, DeltaTable

    options = storage_options(settings)
    uri = table_uri(settings.bucket, name)
    if DeltaTable.is_deltatable(uri, options):
        add_missing_columns(uri, options, name)
        return
    if has_legacy_objects(s3 or aws.client("s3", settings), settings.bucket, name):
        raise _legacy(settings.bucket, name)
    spec = lake_tables.table(name)
    try:
        DeltaTable.create(
            uri,
            lake_tables.arrow_schema(name, with_partitions=True),
            mode="ignore",
            partition_by=list(PARTITION_COLUMNS),
            name=name,
            description=spec.comment,
            configuration=TABLE_PROPERTIES,
            storage_options=options,
            commit_properties=CommitProperties(max_commit_retries=0),
        )
    except Exception:  # another process created it first: its version 0 won the put
        if not DeltaTable.is_deltatable(uri, options):
            raise


def open_uri(
    uri: str, options: dict[str, str], *, as_of: datetime | int | None = None
) -> DeltaTable | None:
    """The Delta table at ``uri`` (an ``s3://`` URI or a local folder), at its latest version or
    as of a time or version; None when there is no table there."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None
    except (OSError, DeltaError) as error:
        raise LakeReadError(f"cannot open the table at {uri}: {error}") from error
    if as_of is not None:
        try:
            table.load_as_version(as_of)
        except (OSError, DeltaError, ValueError) as error:
            raise LakeReadError(
                f"the table at {uri} has no version as of {as_of} (history is kept "
                f"{HISTORY_HOURS} h and starts when the table was created): {error}"
            ) from error
    return table


def open_table(
    settings: Settings, name: str, *, as_of: datetime | int | None = None
) -> DeltaTable | None:
    """Table ``name`` in the settings' bucket (see :func:`open_uri`); a prefix in the old
    plain-object layout raises :class:`LegacyLayoutError` rather than reading as empty."""
    uri, options = table_uri(settings.bucket, name), storage_options(settings)
    table = open_uri(uri, options, as_of=as_of)
    if table is None:
        layout = _layout(aws.client("s3", settings), settings.bucket, name)
        if layout == "legacy":
            raise _legacy(settings.bucket, name)
        if layout == "delta":  # created since the open looked: read it
            table = open_uri(uri, options, as_of=as_of)
    return table
