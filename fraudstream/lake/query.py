"""Run one Athena-dialect SQL statement on DuckDB over the lake's tables.

Each lake table the statement names becomes a DuckDB view over an Arrow dataset (lazy: DuckDB
pushes column projections and ``dt``/``hour`` filters into the scan), in the ``main`` schema and
in one named like the Glue database, so both ``transactions`` and ``fraudstream.transactions``
resolve as they do in Athena. The session runs in UTC, as Athena does, so ``current_date`` and
the partition strings agree. Glue ``timestamp`` columns are exposed as DuckDB ``TIMESTAMP``
(UTC wall time, no zone), which is what Athena returns for them.

Table data comes from a loader function (name -> Arrow dataset or table), so this module holds
no S3 code and is tested with in-memory tables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from fraudstream import lake_tables
from fraudstream.errors import FraudstreamError
from fraudstream.lake.errors import LakeQueryError, LakeReadError, UnknownTableError
from fraudstream.lake.render import ResultSet

Loader = Callable[[str], ds.Dataset | pa.Table]

_SOURCE = "__lake_"
"""Prefix of the relations behind the views, so errors from scanning them are told apart."""
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _statement(sql: str) -> duckdb.Statement:
    """The one statement in ``sql``; Athena runs a single statement per query, and so do we."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise LakeQueryError(f"SQL error: {error}") from error
    if len(statements) != 1:
        raise LakeQueryError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


def _base_tables(node: Any) -> Iterator[str]:
    """Names of every ``BASE_TABLE`` in DuckDB's serialized parse tree (CTE bodies included)."""
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
            yield node["table_name"]
        for value in node.values():
            yield from _base_tables(value)
    elif isinstance(node, list):
        for value in node:
            yield from _base_tables(value)


def referenced_tables(sql: str) -> tuple[str, ...]:
    """Lake tables ``sql`` reads (in lake_tables order), matched case-insensitively.

    Uses DuckDB's parser only (``json_serialize_sql``: nothing is bound or read). Statements it
    cannot serialize (anything but a query) get every table, which is always correct, only slower.
    """
    connection = duckdb.connect(":memory:")
    try:
        row = connection.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    finally:
        connection.close()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        return lake_tables.table_names()
    lowered = {name.lower() for name in _base_tables(tree)}
    return tuple(t for t in lake_tables.table_names() if t in lowered)


def view_sql(name: str, source: str) -> str:
    """SELECT list of the view for table ``name`` over relation ``source``: the lake_tables
    columns in order, timestamps as zone-less UTC ``TIMESTAMP`` like Athena's."""
    spec = lake_tables.table(name)
    columns = []
    for column in spec.columns + spec.partition_keys:
        quoted = _quote(column.name)
        if column.type.strip().lower() == "timestamp":
            columns.append(f"CAST({quoted} AS TIMESTAMP) AS {quoted}")
        else:
            columns.append(quoted)
    return f"SELECT {', '.join(columns)} FROM {_quote(source)}"  # noqa: S608 - our identifiers


def connect(tables: dict[str, ds.Dataset | pa.Table]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session in UTC with a view per given table (main and database schema)."""
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    schema = _quote(lake_tables.database())
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, data in tables.items():
        source = f"{_SOURCE}{name}"
        connection.register(source, data)
        select = view_sql(name, source)
        connection.execute(f"CREATE VIEW main.{_quote(name)} AS {select}")
        connection.execute(f"CREATE VIEW {schema}.{_quote(name)} AS {select}")
    return connection


def _failure(error: duckdb.Error) -> FraudstreamError:
    """Our error for a DuckDB failure, keeping DuckDB's message; a missing table names ours,
    and a scan that failed on an object is a read error, not the SQL's fault."""
    message = str(error)
    if _SOURCE in message:
        return LakeReadError(f"cannot read the lake: {message}")
    missing = _MISSING_TABLE.search(message) if isinstance(error, duckdb.CatalogException) else None
    if missing:
        known = ", ".join(lake_tables.table_names())
        return UnknownTableError(
            f"unknown table {missing.group(1)}: the lake's tables are {known} "
            "(see `fraudstream lake tables`)"
        )
    return LakeQueryError(f"SQL error: {message}")


def run(sql: str, params: Sequence[str], load: Loader) -> ResultSet:
    """Run ``sql`` with positional ``?`` parameters over the lake tables it names.

    Only the tables the statement references are loaded. DuckDB's error message is kept in the
    :class:`LakeQueryError` raised for bad SQL; a wrong number of parameters is caught before
    any data is read.
    """
    statement = _statement(sql)
    expected = len(statement.named_parameters)
    if expected != len(params):
        raise LakeQueryError(
            f"the query takes {expected} parameter{'' if expected == 1 else 's'} "
            f"(--param VALUE, in order), got {len(params)}"
        )
    tables = {name: load(name) for name in referenced_tables(sql)}
    connection = connect(tables)
    try:
        cursor = connection.execute(sql, list(params) if params else None)
        description = cursor.description or []
        rows = cursor.fetchall() if description else []
    except duckdb.Error as error:
        raise _failure(error) from error
    finally:
        connection.close()
    return ResultSet(
        columns=tuple(d[0] for d in description),
        types=tuple(str(d[1]) for d in description),
        rows=rows,
    )
