"""Two processes committing to one Delta table at once, as two hash-range cells do: every batch
of each lands once, at versions no two commits share, and the table reads whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from fraudstream.lake.tables import open_table
from fraudstream.readback import lake_table
from fraudstream.settings import Settings, to_environment
from tests.processor.sinks.test_lake import commits, lake  # noqa: F401 - the fixture

BATCHES = 8


@pytest.mark.integration
def test_two_processes_commit_to_one_table_without_losing_a_batch(lake: Settings) -> None:  # noqa: F811
    env = {**os.environ, **to_environment(lake)}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.processor.sinks.lake_writer_child", query, str(BATCHES)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for query in ("cell-0", "cell-1")
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err[-3000:]
    versions = [
        json.loads(line)["commits"]["transactions"]
        for out, _ in outputs
        for line in out.splitlines()
    ]
    assert len(versions) == 2 * BATCHES and len(set(versions)) == 2 * BATCHES
    assert len(commits(lake, "transactions")) == 2 * BATCHES + 1  # and the table's creation
    table = open_table(lake, "transactions")
    assert table is not None
    assert table.transaction_version("cell-0") == table.transaction_version("cell-1") == BATCHES - 1
    ids = Counter(lake_table(lake, "transactions")["transaction_id"].to_pylist())
    assert len(ids) == 2 * BATCHES * 3 and max(ids.values()) == 1
    raced = sum("under a concurrent writer" in err for _, err in outputs)
    print(f"processes that lost a race for a version and caught up: {raced}")
