"""Build the handbook dataset the data tests use, from the handbook's public repository.

The Fraud Detection Handbook's simulated transactions are daily pandas pickles in
Fraud-Detection-Handbook/simulated-data-raw. This downloads April to July 2018 at the pinned
commit, checks each file's git blob id against ``handbook_dataset.sha1`` *before* loading it (a
pickle runs code when loaded: only the pinned bytes ever are), and writes them as one zstd
Parquet file with the columns and types tests/conftest.py expects (1,169,723 rows, 9,465
frauds; the build fails on any other count)::

    python scripts/handbook_dataset.py --out PATH

tests/conftest.py looks for the file at ``$FRAUD_HANDBOOK_PARQUET``, else at
``../shared/datasets/fraud-handbook/transactions_2018-04_2018-07.parquet`` beside the clone.
``--source DIR`` reads ``DIR/data/<day>.pkl`` (a clone of the repository) instead of
downloading. CI builds the file once and caches it (.github/workflows/ci.yml); ``make
handbook-data`` builds it locally.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPOSITORY = "Fraud-Detection-Handbook/simulated-data-raw"
COMMIT = "6e67dbd0a3bfe0d7ec33abc4bce5f37cd4ff0d6a"
FIRST, LAST = date(2018, 4, 1), date(2018, 7, 31)
ROWS, FRAUDS = 1_169_723, 9_465
MANIFEST = Path(__file__).with_name("handbook_dataset.sha1")
RAW = "https://raw.githubusercontent.com/{repository}/{commit}/{path}"
COLUMNS = {
    "TRANSACTION_ID": pa.int64(),
    "TX_DATETIME": pa.timestamp("us"),
    "CUSTOMER_ID": pa.int64(),
    "TERMINAL_ID": pa.int64(),
    "TX_AMOUNT": pa.float64(),
    "TX_TIME_SECONDS": pa.int64(),
    "TX_TIME_DAYS": pa.int64(),
    "TX_FRAUD": pa.int64(),
    "TX_FRAUD_SCENARIO": pa.int64(),
}


class DatasetError(Exception):
    """A file does not match the pinned commit, or the result has the wrong size."""


def day_paths() -> list[str]:
    """The pinned days' files, in order."""
    days = (FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1))
    return [f"data/{day.isoformat()}.pkl" for day in days]


def blob_id(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git ls-tree`` lists)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def read_manifest() -> dict[str, str]:
    """``{path: blob id}`` from the manifest (``<blob id>  <path>`` lines, ``#`` comments)."""
    out = {}
    for line in MANIFEST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            blob, name = line.split()
            out[name] = blob
    return out


def download(path: str, attempts: int = 4) -> bytes:
    url = RAW.format(repository=REPOSITORY, commit=COMMIT, path=path)
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https, pinned
                data: bytes = response.read()
                return data
        except OSError as error:
            if attempt == attempts:
                raise DatasetError(f"{url}: {error}") from error
            time.sleep(2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def verified(path: str, data: bytes, manifest: dict[str, str]) -> bytes:
    if manifest.get(path) != blob_id(data):
        raise DatasetError(f"{path} does not match commit {COMMIT} (blob {blob_id(data)})")
    return data


def frame(data: bytes) -> pd.DataFrame:
    """One day's pickle as a frame with the dataset's column types."""
    day = pd.read_pickle(io.BytesIO(data))  # noqa: S301 - verified against the pin first
    return day[list(COLUMNS)].reset_index(drop=True)


def build(fetch: Callable[[str], bytes], manifest: dict[str, str], paths: list[str]) -> pa.Table:
    """The dataset from each path's verified bytes, in day order."""
    parts = [frame(verified(path, fetch(path), manifest)) for path in paths]
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    return table.cast(pa.schema(list(COLUMNS.items())))


def check(table: pa.Table) -> None:
    """The published size: :data:`ROWS` rows, :data:`FRAUDS` frauds."""
    found = (table.num_rows, int(pc.sum(table["TX_FRAUD"]).as_py() or 0))
    if found != (ROWS, FRAUDS):
        raise DatasetError(f"expected {ROWS:,} rows and {FRAUDS:,} frauds, built {found}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    parser.add_argument("--source", type=Path, help="a clone of the repository (no download)")
    args = parser.parse_args(argv)

    def fetch(path: str) -> bytes:
        return (args.source / path).read_bytes() if args.source else download(path)

    try:
        table = build(fetch, read_manifest(), day_paths())
        check(table)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial")
    pq.write_table(table, partial, compression="zstd")
    partial.replace(args.out)
    print(f"wrote {args.out}: {table.num_rows:,} rows from {REPOSITORY}@{COMMIT[:7]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
