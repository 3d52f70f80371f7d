"""Text output of result sets: aligned table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from fraudstream.lake.render import FORMATS, ResultSet, cell, render

NAIVE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).replace(
    tzinfo=None
)  # as DuckDB returns TIMESTAMP
RESULT = ResultSet(
    columns=("merchant_id", "alerts", "rate", "reasons", "features", "seen", "fraud"),
    rows=[
        ("m-1", 12, 0.1 + 0.2, ["high_score"], {"f": 1.5}, NAIVE, True),
        ("m-22", None, 1.0, [], {}, None, None),
    ],
)


def test_the_table_aligns_columns_and_right_aligns_numbers() -> None:
    assert render(RESULT, "table").splitlines() == [
        "merchant_id | alerts | rate | reasons        | features   | seen                | fraud",
        "------------+--------+------+----------------+------------+---------------------+------",
        'm-1         |     12 |  0.3 | ["high_score"] | {"f": 1.5} | 2026-01-02 03:04:05 | true',
        "m-22        |   NULL |    1 | []             | {}         | NULL                | NULL",
        "(2 rows)",
    ]


def test_an_empty_result_still_shows_its_columns() -> None:
    text = render(ResultSet(columns=("a", "b"), rows=[]), "table")
    assert text.splitlines() == ["a | b", "--+--", "(0 rows)"]


def test_cells() -> None:
    assert cell(None) == "NULL"
    assert cell(False) == "false"
    assert cell(1 / 3) == "0.3333333333"
    assert cell(Decimal("12.50")) == "12.50"
    assert cell(date(2026, 1, 2)) == "2026-01-02"
    assert cell(["a", None]) == '["a", null]'


def test_csv_keeps_full_precision_and_writes_lists_as_json() -> None:
    rows = list(csv.reader(io.StringIO(render(RESULT, "csv"))))
    assert rows[0] == list(RESULT.columns)
    assert rows[1] == [
        "m-1",
        "12",
        repr(0.1 + 0.2),
        '["high_score"]',
        '{"f": 1.5}',
        "2026-01-02T03:04:05",
        "true",
    ]
    assert rows[2] == ["m-22", "", "1.0", "[]", "{}", "", ""]


def test_json_is_one_object_per_row() -> None:
    data = json.loads(render(RESULT, "json"))
    assert data[0] == {
        "merchant_id": "m-1",
        "alerts": 12,
        "rate": 0.1 + 0.2,
        "reasons": ["high_score"],
        "features": {"f": 1.5},
        "seen": "2026-01-02T03:04:05",
        "fraud": True,
    }
    assert data[1]["alerts"] is None and data[1]["seen"] is None
    aware = ResultSet(
        ("t", "d", "nan"), [(datetime(2026, 1, 1, tzinfo=UTC), Decimal("2.5"), float("nan"))]
    )
    assert json.loads(render(aware, "json")) == [
        {"t": "2026-01-01T00:00:00+00:00", "d": 2.5, "nan": None}
    ]
    assert render(ResultSet(("a",), []), "json") == "[]\n"


def test_unknown_format() -> None:
    assert FORMATS == ("table", "csv", "json")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(RESULT, "xml")
