"""scripts/handbook_dataset.py: files are checked against the pinned commit before they are
loaded, the days are April to July 2018, and the result has the dataset's columns and types."""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "handbook_dataset.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("handbook_dataset", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["handbook_dataset"] = module
    spec.loader.exec_module(module)
    return module


def day(first_id: int, frauds: list[int]) -> bytes:
    """A day's pickle shaped like the handbook's (ids and times as Python objects)."""
    n = len(frauds)
    frame = pd.DataFrame(
        {
            "TRANSACTION_ID": range(first_id, first_id + n),
            "TX_DATETIME": pd.date_range("2018-04-01", periods=n, freq="min"),  # naive, as theirs
            "CUSTOMER_ID": pd.Series(list(range(n)), dtype=object),
            "TERMINAL_ID": pd.Series(list(range(n)), dtype=object),
            "TX_AMOUNT": [10.5 * (i + 1) for i in range(n)],
            "TX_TIME_SECONDS": pd.Series([60 * i for i in range(n)], dtype=object),
            "TX_TIME_DAYS": pd.Series([0] * n, dtype=object),
            "TX_FRAUD": frauds,
            "TX_FRAUD_SCENARIO": frauds,
        },
        index=range(100, 100 + n),
    )
    return pickle.dumps(frame)


def test_blob_ids_are_gits(script: ModuleType) -> None:
    assert script.blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_the_manifest_pins_every_day_from_april_to_july(script: ModuleType) -> None:
    manifest = script.read_manifest()
    paths = script.day_paths()
    assert len(paths) == 122 and paths[0] == "data/2018-04-01.pkl"
    assert paths[-1] == "data/2018-07-31.pkl"
    assert sorted(manifest) == paths
    assert all(len(blob) == 40 for blob in manifest.values())


def test_builds_typed_columns_from_verified_days(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"data/a.pkl": day(0, [0, 1, 0]), "data/b.pkl": day(3, [0, 0])}
    manifest = {path: script.blob_id(data) for path, data in files.items()}
    table = script.build(files.__getitem__, manifest, list(files))
    assert table.schema == pa.schema(list(script.COLUMNS.items()))
    assert table["TRANSACTION_ID"].to_pylist() == [0, 1, 2, 3, 4]
    monkeypatch.setattr(script, "ROWS", 5)
    monkeypatch.setattr(script, "FRAUDS", 1)
    script.check(table)
    monkeypatch.setattr(script, "ROWS", 6)
    with pytest.raises(script.DatasetError, match="expected 6 rows"):
        script.check(table)


def test_a_file_not_from_the_pinned_commit_is_never_loaded(script: ModuleType) -> None:
    manifest = {"data/a.pkl": script.blob_id(day(0, [0]))}
    tampered = b"not a pickle: loading it would raise something else"
    with pytest.raises(script.DatasetError, match="does not match commit"):
        script.build(lambda _: tampered, manifest, ["data/a.pkl"])


def test_main_writes_the_file_or_fails_saying_why(
    script: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "clone"
    (source / "data").mkdir(parents=True)
    (source / "data" / "2018-04-01.pkl").write_bytes(day(0, [1, 0]))
    manifest = tmp_path / "pins.sha1"
    manifest.write_text(f"# pins\n{script.blob_id(day(0, [1, 0]))}  data/2018-04-01.pkl\n")
    monkeypatch.setattr(script, "MANIFEST", manifest)
    monkeypatch.setattr(script, "LAST", script.FIRST)  # one day: 2018-04-01
    out = tmp_path / "out" / "handbook.parquet"
    assert script.main(["--out", str(out), "--source", str(source)]) == 1  # 2 rows, not 1,169,723
    assert "expected 1,169,723 rows" in capsys.readouterr().err and not out.exists()
    monkeypatch.setattr(script, "ROWS", 2)
    monkeypatch.setattr(script, "FRAUDS", 1)
    assert script.main(["--out", str(out), "--source", str(source)]) == 0
    assert pq.read_table(out).num_rows == 2
