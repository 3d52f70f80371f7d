"""Turn a result set into text: an aligned table for people, CSV or JSON for other programs.

Pure functions of the rows. The table rounds floats to 10 significant digits so sums like
``0.30000000000000004`` read as ``0.3``; CSV and JSON keep full precision. Lists and maps
(``reasons``, ``features``) are written as JSON in the table and in CSV cells.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class ResultSet:
    """Named columns (with their SQL types, where known) and the rows under them."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    types: tuple[str, ...] = ()


def _plain(value: Any) -> Any:
    """A JSON-ready version of ``value`` (timestamps as ISO 8601, decimals as numbers)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def cell(value: Any) -> str:
    """How one value reads in the aligned table."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dict | list | tuple):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(value)


def _numeric(values: Sequence[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in present
    )


def to_table(result: ResultSet) -> str:
    """Columns padded to their widest cell, numbers right-aligned, and a row count."""
    header = list(result.columns)
    cells = [[cell(v).replace("\n", "\\n") for v in row] for row in result.rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    right = [_numeric([row[i] for row in result.rows]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return " | ".join(padded).rstrip()

    lines = [line(header), "-+-".join("-" * w for w in widths)]
    lines.extend(line(r) for r in cells)
    count = len(result.rows)
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return "\n".join(lines) + "\n"


def to_csv(result: ResultSet) -> str:
    """RFC 4180 CSV with a header; NULL is an empty cell, lists and maps are JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(_plain(value), ensure_ascii=False)
    plain = _plain(value)
    return "" if plain is None else plain


def to_json(result: ResultSet) -> str:
    """A JSON array with one object per row (keyed by column name), one row per line."""
    if not result.rows:
        return "[]\n"
    records = [
        json.dumps(
            {name: _plain(value) for name, value in zip(result.columns, row, strict=True)},
            ensure_ascii=False,
        )
        for row in result.rows
    ]
    return "[\n" + ",\n".join(records) + "\n]\n"


def render(result: ResultSet, fmt: str) -> str:
    """``result`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "table":
        return to_table(result)
    if fmt == "csv":
        return to_csv(result)
    if fmt == "json":
        return to_json(result)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
