"""The commits the lake writer puts in a table's log: pure, and read back by deltalake."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from fraudstream.lake import delta_log
from fraudstream.lake.delta_log import DataFile


def test_names_and_versions() -> None:
    assert delta_log.log_key("labels/", 42) == "labels/_delta_log/00000000000000000042.json"
    assert delta_log.version_of("labels/_delta_log/00000000000000000042.json") == 42
    for other in ("_last_checkpoint", "00000000000000000010.checkpoint.parquet", "1.json", "x"):
        assert delta_log.version_of(other) is None
    tag = delta_log.app_tag("query-a")
    assert len(tag) == 8 and tag != delta_log.app_tag("query-b")
    assert delta_log.data_file_path("2026-01-02", "03", 7, "query-a", 1) == (
        f"dt=2026-01-02/hour=03/part-000000000007-{tag}-0001.zstd.parquet"
    )


def test_an_append_commit_records_the_batch_and_its_files() -> None:
    files = [DataFile("dt=d/hour=01/a.parquet", "d", "01", 100, 3)]
    body = delta_log.append_commit(files, app_id="q", batch_id=9, now_ms=1_000)
    actions = [json.loads(line) for line in body.decode().splitlines()]
    assert actions[1] == {"txn": {"appId": "q", "version": 9, "lastUpdated": 1_000}}
    assert actions[2]["add"]["partitionValues"] == {"dt": "d", "hour": "01"}
    assert json.loads(actions[2]["add"]["stats"]) == {"numRecords": 3}
    assert actions[0]["commitInfo"]["operationMetrics"]["numOutputRows"] == "3"
    summary = delta_log.read_commit(body)
    assert summary.txns == {"q": 9} and not summary.changes_table
    schema_change = b'{"metaData":{"id":"x"}}\n\n{"txn":{"appId":"o","version":2}}\n'
    assert delta_log.read_commit(schema_change).txns == {"o": 2}
    assert delta_log.read_commit(schema_change).changes_table


def test_deltalake_reads_what_the_writer_commits(tmp_path: Path) -> None:
    """The log entries are valid Delta: the library sees the rows and the transaction."""
    schema = pa.schema([("n", pa.int64()), ("dt", pa.string()), ("hour", pa.string())])
    DeltaTable.create(str(tmp_path), schema, partition_by=["dt", "hour"])
    folder = tmp_path / "dt=2026-01-01" / "hour=05"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"n": [1, 2]}), folder / "f.parquet")
    size = (folder / "f.parquet").stat().st_size
    files = [DataFile("dt=2026-01-01/hour=05/f.parquet", "2026-01-01", "05", size, 2)]
    log = tmp_path / "_delta_log" / "00000000000000000001.json"
    log.write_bytes(delta_log.append_commit(files, app_id="q", batch_id=4, now_ms=1))
    table = DeltaTable(str(tmp_path))
    assert table.version() == 1 and table.transaction_version("q") == 4
    rows = table.to_pyarrow_dataset().to_table().sort_by("n").to_pylist()
    assert rows == [
        {"n": 1, "dt": "2026-01-01", "hour": "05"},
        {"n": 2, "dt": "2026-01-01", "hour": "05"},
    ]
