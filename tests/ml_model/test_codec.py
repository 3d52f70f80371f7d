"""The CSV rows the scoring client sends: exactly the float32 values the model would see."""

from __future__ import annotations

import numpy as np
import pytest

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
