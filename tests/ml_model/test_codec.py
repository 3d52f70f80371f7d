"""The codec: the CSV rows the scoring client sends are exactly the float32 values the model
would see, and what a request may carry is parsed exactly or refused with a 4xx error."""

from __future__ import annotations

import contextlib
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_model.errors import FeatureCountError, PayloadError
from ml_model.serving import codec

EDGES = [0.0, -0.0, 0.1, 1e-45, 1.17549435e-38, 3.4028235e38, -2237799.5, 123456789.0, np.nan]


def test_rows_read_back_as_the_same_float32_values() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.standard_normal((300, 19)) * np.logspace(-12, 12, 19)
    matrix[rng.random(matrix.shape) < 0.05] = np.nan
    matrix[0, : len(EDGES)] = EDGES
    lines = codec.encode_csv_rows(matrix)
    assert len(lines) == 300 and all(b"\n" not in line for line in lines)
    parsed = codec.parse_csv(b"\n".join(lines), features=19)  # the server's own parser
    expected = matrix.astype(np.float32)
    assert np.array_equal(parsed.astype(np.float32), expected, equal_nan=True)
    assert np.array_equal(np.signbit(parsed[0, :2]), [False, True])  # -0.0 stays negative
    assert lines[0].split(b",")[len(EDGES) - 1] == b""  # NaN is an empty field


def test_values_are_written_in_their_shortest_float32_form() -> None:
    assert codec.encode_csv_rows(np.array([[0.1, 2.5, np.nan, 100.0]])) == [b"0.1,2.5,,100"]


def test_empty_and_malformed_matrices() -> None:
    assert codec.encode_csv_rows(np.zeros((0, 19))) == []
    assert codec.encode_csv_rows(np.zeros((2, 0))) == [b"", b""]
    with pytest.raises(ValueError, match="2-D"):
        codec.encode_csv_rows(np.zeros(19))


# --- Hostile input: refused with PayloadError/FeatureCountError (the server's 4xx), never
# --- another exception (a 5xx) and never a value the request did not say. --------------------

WIDTH = 3
NAMES = ("a", "b", "c")
DECIMAL = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*")
MAX_F32 = float(np.finfo(np.float32).max)


@pytest.mark.parametrize(
    "field",
    [
        "1" * 400,  # a 400-digit number: beyond float32 (and float64)
        "1e39",  # finite in float64, infinite in the model's float32
        "-3.5e38",
        "inf",
        "-Infinity",
        "nan",
        "NaN",
        "1_000",  # Python's float() takes underscores
        "\u0661\u0662",  # and Arabic-Indic digits
        "0x10",
        "True",
        "1e",
        ".",
        "--1",
    ],
)
def test_csv_refuses_what_is_not_a_decimal_number_in_float32(field: str) -> None:
    body = ",".join(["1", field, "2"]).encode()
    with pytest.raises(PayloadError):
        codec.parse_csv(body, features=WIDTH)


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[1, ' + b"1" * 400 + b", 2]]}",
        b'{"instances": [[1, ' + b"9" * 5000 + b", 2]]}",  # past Python's int digit limit
        b'{"instances": [[1, 1e400, 2]]}',
        b'{"instances": [[1, 1e39, 2]]}',
        b'{"instances": [[1, Infinity, 2]]}',
        b'{"instances": [[1, -Infinity, 2]]}',
        b'{"instances": [[1, NaN, 2]]}',
        b'{"instances": [[1, true, 2]]}',
        b'{"instances": [[1, false, 2]]}',
        b'{"instances": [[1, "2", 2]]}',
        b'{"instances": [[1, [2], 2]]}',
        b'{"instances": [{"a": 1, "b": true, "c": 2}]}',
        b'{"instances": [{"features": {"a": 1}}]}',
        b"[" * 100_000 + b"]" * 100_000,  # nested 100,000 deep
        b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_json_refuses_non_numbers_huge_numbers_and_deep_nesting(body: bytes) -> None:
    with pytest.raises(PayloadError):
        codec.parse_json(body, NAMES)


def test_missing_values_and_the_float32_extremes_still_parse() -> None:
    rows = codec.parse_csv(b"1,,-2.5e-3\n ,3.4028235e38, +.5 ", features=WIDTH)
    assert np.array_equal(
        rows, [[1.0, np.nan, -2.5e-3], [np.nan, 3.4028235e38, 0.5]], equal_nan=True
    )
    rows = codec.parse_json(b'{"instances": [[1, null, -0], {"a": 2, "b": 3e38, "c": 4}]}', NAMES)
    assert np.array_equal(rows, [[1.0, np.nan, 0.0], [2.0, 3e38, 4.0]], equal_nan=True)


def _beyond_float32(number: float) -> bool:
    with np.errstate(over="ignore"):
        return bool(np.isinf(np.float32(number)))


def reference_csv(text: str) -> np.ndarray | None:
    """What a correct parser must return for ``text``: the numbers it spells, or None when it
    must be refused (a field that is not a decimal number, or beyond float32)."""
    lines = text.strip().splitlines()
    values = []
    for line in lines:
        for field in line.split(","):
            if not field.strip(" \t"):
                values.append(math.nan)
            elif not DECIMAL.fullmatch(field) or _beyond_float32(float(field)):
                return None
            else:
                values.append(float(field))
    return np.array(values).reshape(len(lines), -1)


csv_text = st.lists(
    st.lists(
        st.one_of(
            st.floats(width=32, allow_nan=False, allow_infinity=False).map(repr),
            st.integers(-(10**40), 10**40).map(str),
            st.text(alphabet="0123456789+-.eE \t", max_size=8),
            st.sampled_from(["", "inf", "nan", "1_0", "\u0663", "1e400", "\x00", "true"]),
        ),
        min_size=WIDTH,
        max_size=WIDTH,
    ).map(",".join),
    min_size=1,
    max_size=6,
).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(csv_text)
def test_csv_fuzz_parses_exactly_or_refuses(text: str) -> None:
    expected = reference_csv(text) if text.strip() else None
    try:
        rows = codec.parse_csv(text.encode(), features=WIDTH)
    except (PayloadError, FeatureCountError):
        assert expected is None, f"refused a valid body {text!r}"
        return
    assert expected is not None, f"accepted {text!r}"
    assert rows.shape == expected.shape  # every row, none dropped or merged
    assert np.array_equal(rows, expected, equal_nan=True)


@settings(max_examples=400, deadline=None)
@given(csv_text.map(lambda text: text.replace(" ", "").replace("\t", "")))
def test_arrows_reading_agrees_with_the_reference_or_steps_aside(text: str) -> None:
    """The fast path (Arrow's parser) reads a body exactly as the reference does, or returns
    None and leaves it to the checking path; never another value, row or row count."""
    fast = codec._parse_csv_fast(text.encode(), features=WIDTH)
    if fast is None:
        return
    expected = reference_csv(text)
    if expected is None:  # read, but beyond float32: parse_csv's range check refuses it
        assert np.isinf(fast.astype(np.float32)).any(), f"accepted {text!r}"
        return
    assert fast.shape == expected.shape
    assert np.array_equal(fast, expected, equal_nan=True)


def test_the_usual_body_takes_the_fast_path_missing_values_included() -> None:
    body = b"1,,-2.5e-3\r\n.5,3.4028235e38,+1.\n7,8,9\n"
    fast = codec._parse_csv_fast(body, features=WIDTH)
    expected = [[1, np.nan, -2.5e-3], [0.5, 3.4028235e38, 1.0], [7, 8, 9]]
    assert fast is not None and np.array_equal(fast, expected, equal_nan=True)
    assert np.array_equal(codec.parse_csv(body, features=WIDTH), expected, equal_nan=True)
    for aside in (b"1,2\n3,4,5", b"1, 2,3", b"1,2,3\n\n4,5,6", b"1,2,x", b"1,2,1e"):
        assert codec._parse_csv_fast(aside, features=WIDTH) is None, aside


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | csv_text.map(str.encode))
def test_csv_fuzz_raw_bytes_never_escape_as_another_error(body: bytes) -> None:
    with contextlib.suppress(PayloadError, FeatureCountError):
        rows = codec.parse_csv(body, features=WIDTH)
        assert rows.shape == (len(body.decode().strip().splitlines()), WIDTH)
        assert not np.isinf(rows.astype(np.float32)).any()


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**50), 10**50),
    st.text(max_size=4),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NAMES), inner),
    max_leaves=12,
)
json_bodies = st.one_of(
    st.fixed_dictionaries({"instances": st.lists(json_values, max_size=4)}),
    st.fixed_dictionaries({"instances": st.lists(st.lists(json_scalars, min_size=3, max_size=3))}),
    json_values,
)


def reference_value(value: object) -> float | None:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return None if _beyond_float32(number) else number


@settings(max_examples=400, deadline=None)
@given(json_bodies)
def test_json_fuzz_parses_exactly_or_refuses(data: object) -> None:
    body = json.dumps(data).encode()
    try:
        rows = codec.parse_json(body, NAMES)
    except (PayloadError, FeatureCountError):
        return
    instances = data["instances"] if isinstance(data, dict) and "instances" in data else data
    assert isinstance(instances, list) and rows.shape == (len(instances), WIDTH)
    for row, given_row in zip(rows, instances, strict=True):
        if isinstance(given_row, dict):
            given_row = given_row.get("features", [given_row.get(n) for n in NAMES])
        expected = [reference_value(v) for v in given_row]
        assert None not in expected, f"accepted {given_row!r}"
        assert np.array_equal(row, expected, equal_nan=True)
