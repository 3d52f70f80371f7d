"""``fraudstream lake query|tables|history|queries|compact|upgrade``: the lake's Delta tables.

The commands only wire things together: :mod:`fraudstream.lake.storage` opens the tables (at a
version or as of a time), :mod:`fraudstream.lake.query` runs DuckDB, :mod:`fraudstream.lake.render`
prints, :mod:`fraudstream.lake.maintenance` compacts. Results go to stdout (so ``--format csv``
can be piped); the one-line summary goes to stderr.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from fraudstream import lake_tables
from fraudstream.cli.context import CliContext
from fraudstream.errors import FraudstreamError
from fraudstream.lake import named, render

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds

_WHERE = (
    "Reads s3://$FRAUDSTREAM_BUCKET (default fraudstream-lake) at AWS_ENDPOINT_URL "
    "(AWS_ENDPOINT_URL_S3 wins; unset means AWS)."
)

_TABLES = lake_tables.table_names()  # the contract's order; a new table needs no edit here

_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(render.FORMATS),
    default="table",
    show_default=True,
    help="table for people; csv or json for other programs.",
)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC (as the lake's timestamps are)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(
            f"{value!r} is not a time like 2026-12-03T14:00 or 2026-12-03 14:00:00+00:00"
        ) from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Time(click.ParamType):
    name = "TIME"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> datetime:
        return value if isinstance(value, datetime) else parse_time(str(value))


@click.group(
    help="The lake's Delta tables: query them locally with DuckDB as Athena would, see their "
    f"history, compact them.\n\n{_WHERE}"
)
def lake() -> None:
    pass


@lake.command(
    epilog=(
        "Examples:\n\n"
        "\b\n"
        '  fraudstream lake query "SELECT decision, count(*) FROM transactions GROUP BY 1"\n'
        "  fraudstream lake query --named card_timeline --param 'tok_...'\n"
        "  fraudstream lake query - --format csv < my_query.sql"
    )
)
@click.argument("sql", required=False)
@click.option(
    "--named",
    "-n",
    "name",
    metavar="NAME",
    help="Run a shipped named query (see `fraudstream lake queries`) instead of SQL.",
)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="VALUE",
    help="Value of the next ? placeholder; repeat for several, in order.",
)
@click.option(
    "--as-of",
    "as_of",
    type=_Time(),
    metavar="TIME",
    help="Read the tables as they were at TIME (ISO 8601, UTC unless a zone is given): "
    "time travel through the tables' history, kept 48 hours.",
)
@_format_option
@click.pass_obj
def query(
    obj: CliContext,
    sql: str | None,
    name: str | None,
    params: tuple[str, ...],
    as_of: datetime | None,
    fmt: str,
) -> None:
    """Run one SQL statement (Athena dialect) over the lake's tables.

    The tables (transactions, aggregates, quarantine, labels; also as fraudstream.<table>) have
    the Glue tables' columns, partition keys dt and hour included; timestamps are UTC. Only the
    tables the statement names are read. SQL '-' reads the statement from stdin. DuckDB runs
    it: most of Athena's SQL works unchanged; docs/lake.md lists the differences. With
    --as-of, every table is read at the version that was current at that time.
    """
    if (sql is None) == (name is None):
        raise click.UsageError("give either SQL or --named NAME")
    if name is not None:
        sql = named.named_query(name).sql
    elif sql == "-":
        sql = sys.stdin.read()
    assert sql is not None
    try:
        from fraudstream.lake import query as engine
    except ModuleNotFoundError as error:
        if error.name != "duckdb":
            raise
        raise FraudstreamError(
            "`fraudstream lake query` needs DuckDB: pip install 'fraudstream[local]'"
        ) from error

    from fraudstream.lake.storage import LakeStore

    store = LakeStore.from_settings(obj.settings, as_of=as_of)
    loaded: list[str] = []

    def load(table: str) -> ds.Dataset | pa.Table:
        loaded.append(table)
        return store.dataset(table)

    started = time.monotonic()
    result = engine.run(sql, params, load)
    seconds = time.monotonic() - started
    click.echo(render.render(result, fmt), nl=False)
    read = [store.listing(t) for t in loaded]
    tables = ", ".join(
        f"{t.name} v{t.version} ({len(t.objects)} files, {t.bytes:,} bytes)"
        if t.version is not None
        else f"{t.name} (no table yet)"
        for t in read
    )
    count = len(result.rows)
    when = f" as of {as_of.isoformat()}" if as_of else ""
    click.echo(
        f"{count} row{'' if count == 1 else 's'} in {seconds:.2f} s from s3://{store.bucket}"
        + when
        + (f": {tables}" if tables else ""),
        err=True,
    )


@lake.command()
@_format_option
@click.pass_obj
def tables(obj: CliContext, fmt: str) -> None:
    """List the lake's tables with their version, files, rows, bytes and partitions.

    Rows come from the transaction log's statistics (no data is read). A table with nothing
    written yet shows zero rows; it is still queryable.
    """
    from fraudstream.lake.storage import LakeStore

    store = LakeStore.from_settings(obj.settings)
    stats = [store.stats(name) for name in _TABLES]
    result = render.ResultSet(
        columns=("table", "version", "files", "rows", "bytes", "partitions", "first", "last"),
        rows=[
            (
                s.name,
                s.version,
                s.objects,
                s.rows,
                s.bytes,
                s.partitions,
                s.first_partition,
                s.last_partition,
            )
            for s in stats
        ],
    )
    click.echo(render.render(result, fmt), nl=False)


@lake.command()
@click.argument("table_name", metavar="TABLE", type=click.Choice(_TABLES))
@click.option("--limit", default=20, show_default=True, help="The newest N commits.")
@_format_option
@click.pass_obj
def history(obj: CliContext, table_name: str, limit: int, fmt: str) -> None:
    """The newest commits of one table: version, time, operation and what it did.

    Any time between two versions can be given to `lake query --as-of`.
    """
    from fraudstream.lake import tables as lake_tables

    table = lake_tables.open_table(obj.settings, table_name)
    entries = table.history(limit) if table is not None else []
    result = render.ResultSet(
        columns=("version", "time", "operation", "query", "batch", "metrics"),
        rows=[
            (
                e.get("version"),
                datetime.fromtimestamp(int(e.get("timestamp", 0)) / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                e.get("operation"),
                (e.get("operationParameters") or {}).get("queryId"),
                (e.get("operationParameters") or {}).get("epochId"),
                e.get("operationMetrics") or {},
            )
            for e in entries
        ],
    )
    click.echo(render.render(result, fmt), nl=False)


@lake.command()
@click.option(
    "--table",
    "names",
    multiple=True,
    type=click.Choice(_TABLES),
    help="Only this table (repeatable); default all four.",
)
@click.option(
    "--target-file-mb",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    envvar="FRAUDSTREAM_LAKE_TARGET_FILE_MB",
    show_envvar=True,
    help="Size compaction aims for (Athena's guidance: 128 MB and up).",
)
@click.option(
    "--retain-hours",
    type=click.IntRange(min=1),
    default=48,
    show_default=True,
    envvar="FRAUDSTREAM_LAKE_RETAIN_HOURS",
    show_envvar=True,
    help="Keep replaced files and log entries this long: how far back --as-of reaches.",
)
@click.option(
    "--settle-minutes",
    type=click.FloatRange(min=0),
    default=None,
    help="An hour is closed this long after it ends (default: the watermark delay, "
    "FRAUDSTREAM_WATERMARK).",
)
@click.pass_obj
def compact(
    obj: CliContext,
    names: tuple[str, ...],
    target_file_mb: int,
    retain_hours: int,
    settle_minutes: float | None,
) -> None:
    """Rewrite closed hours into large files, expire old versions, delete unreferenced files.

    Safe while the processor writes: only closed hours are rewritten, and each rewrite is one
    commit that cannot overwrite the processor's. Run it hourly (the fraudstream-lake-compact
    CronJob does).
    """
    from fraudstream.lake import maintenance

    settle = (
        timedelta(minutes=settle_minutes)
        if settle_minutes is not None
        else timedelta(milliseconds=obj.settings.watermark_ms)
    )
    now = datetime.now(UTC)
    for name in names or _TABLES:
        outcome = maintenance.compact_table(
            obj.settings,
            name,
            now=now,
            settle=settle,
            target_bytes=target_file_mb * 1024 * 1024,
            retain=timedelta(hours=retain_hours),
        )
        if outcome.version is None:
            click.echo(f"{name}: no table yet")
            continue
        click.echo(
            f"{name}: {outcome.partitions} closed hour(s) compacted, "
            f"{outcome.files_removed} files -> {outcome.files_added}; "
            f"{outcome.files_vacuumed} unreferenced file(s) deleted; "
            f"version {outcome.version}; {outcome.seconds:.1f} s"
        )


@lake.command()
@click.option(
    "--query-id",
    default=None,
    help="The processor's application id to record (default: the Spark query id of "
    "FRAUDSTREAM_CHECKPOINT_LOCATION), so a batch it replays after the upgrade is not "
    "written twice.",
)
@click.pass_obj
def upgrade(obj: CliContext, query_id: str | None) -> None:
    """Turn tables written in the old layout (plain Parquet objects under dt=/hour=) into
    Delta tables in place, keeping every object; tables that are Delta already are left alone.

    Stop the processor first. The highest batch id found in each table is recorded for the
    processor's query, so replays of those batches are recognised.
    """
    from fraudstream.lake import upgrade as lake_upgrade

    for outcome in lake_upgrade.upgrade_all(obj.settings, query_id=query_id):
        click.echo(outcome)


@lake.command()
@click.argument("name", required=False)
def queries(name: str | None) -> None:
    """List the shipped named queries, or print one's SQL.

    The same files become Athena named queries through Terraform (fraudstream/lake/queries).
    """
    if name is not None:
        click.echo(named.named_query(name).sql, nl=False)
        return
    found = named.named_queries()
    width = max((len(n) for n in found), default=0)
    for query_name, named_query in found.items():
        click.echo(f"{query_name:<{width}}  {named_query.description}")
