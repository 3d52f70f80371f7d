"""``kill -9`` of the driver and its JVM mid-batch: restart loses and repeats nothing.

The query runs in its own process group (Python driver, JVM, Python workers). The test kills
the whole group while a batch is written but not yet committed, so the restart must replay that
batch from the checkpointed range by re-reading Kinesis, and must produce the same rows. The
stream holds KPL-aggregated records (37 events each, so the 400-row admission limit falls
inside them) followed by plain ones: no batch splits an aggregated record, and the replay
re-reads whole records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fraudstream.settings import Settings

from .spark_helpers import put_events, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHILD = Path(__file__).with_name("crash_child.py")


def start_child(settings: Settings, tmp: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        str(CHILD),
        "--endpoint",
        str(settings.endpoint_url),
        "--stream",
        settings.stream_name,
        "--checkpoint",
        str(tmp / "checkpoint"),
        "--out",
        str(tmp / "out"),
        *extra,
    ]
    with log.open("ab") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def batch_files(tmp: Path) -> list[Path]:
    return sorted((tmp / "out").glob("batch-*.json"))


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_kill_9_mid_batch_then_restart_loses_and_repeats_nothing(
    fresh_streams: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "child.log"
    sent = put_events(fresh_streams, 2000, aggregate=37)
    sent += put_events(fresh_streams, 2000, start=2000)
    child = start_child(fresh_streams, tmp_path, log, "--max-records", "400", "--pause", "1.0")
    try:
        victim: dict[str, object] = {}

        def in_flight_batch() -> bool:
            """A second (or later) batch is written but its commit is not yet in the checkpoint."""
            if child.poll() is not None:
                raise AssertionError(f"the query exited early:\n{log.read_text()[-3000:]}")
            files = batch_files(tmp_path)
            if len(files) < 2:
                return False
            newest = files[-1]
            batch_id = int(newest.stem.split("-")[1])
            if (tmp_path / "checkpoint" / "commits" / str(batch_id)).exists():
                return False
            victim.update(id=batch_id, rows=json.loads(newest.read_text()))
            os.killpg(child.pid, signal.SIGKILL)
            return True

        wait_for(in_flight_batch, timeout=240, what="a batch in flight")
        child.wait(timeout=30)
        wait_for(lambda: not group_alive(child.pid), timeout=30, what="the process group to die")
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()

    batch_id = int(str(victim["id"]))
    checkpoint = tmp_path / "checkpoint"
    assert (checkpoint / "offsets" / str(batch_id)).exists()
    assert not (checkpoint / "commits" / str(batch_id)).exists()

    sent += put_events(fresh_streams, 2000, start=4000)  # more data while the job was down
    restart = start_child(fresh_streams, tmp_path, log, "--max-records", "2000", "--available-now")
    assert restart.wait(timeout=300) == 0, log.read_text()[-3000:]

    batches = [json.loads(path.read_text()) for path in batch_files(tmp_path)]
    got = [row["id"] for rows in batches for row in rows]
    assert len(got) == len(set(got)), "duplicated rows"
    records = [{(row["shard"], row["seq"]) for row in rows} for rows in batches]
    assert sum(len(r) for r in records) == len(set().union(*records)), "a record was split"
    assert any(row["sub"] > 0 for rows in batches for row in rows)  # aggregated records read
    assert set(got) == set(sent), "lost rows"
    replayed = json.loads((tmp_path / "out" / f"batch-{batch_id:06d}.json").read_text())
    assert replayed == victim["rows"]  # the replay re-read exactly the checkpointed range
