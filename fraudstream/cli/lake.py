"""``fraudstream lake query|tables|queries``: Athena's SQL over the Parquet lake, run locally.

The commands only wire things together: :mod:`fraudstream.lake.storage` finds the objects,
:mod:`fraudstream.lake.query` runs DuckDB, :mod:`fraudstream.lake.render` prints. Results go to
stdout (so ``--format csv`` can be piped); the one-line summary goes to stderr.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from fraudstream.cli.context import CliContext
from fraudstream.errors import FraudstreamError
from fraudstream.lake import named, render

if TYPE_CHECKING:
    import pyarrow.dataset as ds

_WHERE = (
    "Reads s3://$FRAUDSTREAM_BUCKET (default fraudstream-lake) at AWS_ENDPOINT_URL "
    "(AWS_ENDPOINT_URL_S3 wins; unset means AWS)."
)

_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(render.FORMATS),
    default="table",
    show_default=True,
    help="table for people; csv or json for other programs.",
)


@click.group(help=f"Query the S3 Parquet lake locally with DuckDB, as Athena would.\n\n{_WHERE}")
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
@_format_option
@click.pass_obj
def query(
    obj: CliContext, sql: str | None, name: str | None, params: tuple[str, ...], fmt: str
) -> None:
    """Run one SQL statement (Athena dialect) over the lake's tables.

    The tables (transactions, aggregates, quarantine, labels; also as fraudstream.<table>) have
    the Glue tables' columns, partition keys dt and hour included; timestamps are UTC. Only the
    tables the statement names are read. SQL '-' reads the statement from stdin. DuckDB runs
    it: most of Athena's SQL works unchanged; docs/lake.md lists the differences.
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

    store = LakeStore.from_settings(obj.settings)
    loaded: list[str] = []

    def load(table: str) -> ds.Dataset:
        loaded.append(table)
        return store.dataset(table)

    started = time.monotonic()
    result = engine.run(sql, params, load)
    seconds = time.monotonic() - started
    click.echo(render.render(result, fmt), nl=False)
    read = [store.listing(t) for t in loaded]
    tables = ", ".join(f"{t.name} ({len(t.objects)} objects, {t.bytes:,} bytes)" for t in read)
    count = len(result.rows)
    click.echo(
        f"{count} row{'' if count == 1 else 's'} in {seconds:.2f} s from s3://{store.bucket}"
        + (f": {tables}" if tables else ""),
        err=True,
    )


@lake.command()
@_format_option
@click.pass_obj
def tables(obj: CliContext, fmt: str) -> None:
    """List the lake's tables with their objects, rows, bytes and partitions.

    A table with no objects yet shows zero rows; it is still queryable.
    """
    from fraudstream import lake_tables
    from fraudstream.lake.storage import LakeStore

    store = LakeStore.from_settings(obj.settings)
    stats = [store.stats(name) for name in lake_tables.table_names()]
    result = render.ResultSet(
        columns=("table", "objects", "rows", "bytes", "partitions", "first", "last"),
        rows=[
            (
                s.name,
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
    skipped = sum(store.listing(s.name).skipped for s in stats)
    if skipped:
        click.echo(
            f"{skipped} file(s) hidden or outside the partition layout: skipped, as Athena does",
            err=True,
        )


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
