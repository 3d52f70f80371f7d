"""The lake's table definitions (``lake_tables.json``) and the Arrow schemas derived from them.

That JSON file is the one source of every lake table's columns: the processor writes Parquet
with :func:`arrow_schema`, ``stack up`` and Terraform create Glue tables from it, and the local
lake query tool reads it. The transactions table starts with the event contract's fields, which
a test checks against :mod:`fraudstream.events`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa

_SCALARS = {
    "string": pa.string(),
    "double": pa.float64(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str


@dataclass(frozen=True)
class LakeTable:
    name: str
    prefix: str
    comment: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]


def glue_type_to_arrow(glue_type: str) -> pa.DataType:
    """Arrow type for a Glue/Hive DDL type (scalars, ``array<T>`` and ``map<K,V>``)."""
    text = glue_type.replace(" ", "").lower()
    if text in _SCALARS:
        return _SCALARS[text]
    array = re.fullmatch(r"array<(.+)>", text)
    if array:
        return pa.list_(glue_type_to_arrow(array.group(1)))
    mapping = re.fullmatch(r"map<([a-z]+),(.+)>", text)
    if mapping:
        return pa.map_(glue_type_to_arrow(mapping.group(1)), glue_type_to_arrow(mapping.group(2)))
    raise ValueError(f"unsupported Glue type {glue_type!r}")


@cache
def definitions() -> dict[str, Any]:
    """The raw JSON document (database name and tables)."""
    text = resources.files("fraudstream").joinpath("lake_tables.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def database() -> str:
    return str(definitions()["database"])


@cache
def table(name: str) -> LakeTable:
    """One table's definition; KeyError names the known tables."""
    tables = definitions()["tables"]
    if name not in tables:
        raise KeyError(f"unknown lake table {name!r}; known: {', '.join(sorted(tables))}")
    spec = tables[name]
    return LakeTable(
        name=name,
        prefix=spec["prefix"],
        comment=spec["comment"],
        columns=tuple(Column(**c) for c in spec["columns"]),
        partition_keys=tuple(Column(**c) for c in spec["partition_keys"]),
    )


def table_names() -> tuple[str, ...]:
    return tuple(definitions()["tables"])


def arrow_schema(name: str, *, with_partitions: bool = False) -> pa.Schema:
    """Arrow schema of a table's data columns (plus partition columns when asked)."""
    spec = table(name)
    columns = spec.columns + (spec.partition_keys if with_partitions else ())
    return pa.schema([pa.field(c.name, glue_type_to_arrow(c.type)) for c in columns])
