"""The naive baseline's consumer against the real emulator and a real model server: a few
hundred records from the producer's CLI, each processed once, with a latency."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.harness import environment, fresh
from benchmarks.naive import NaiveConsumer
from fraudstream import aws
from fraudstream.demo.processes import produce_args
from fraudstream.settings import Settings
from ml_model.serving.server import RunningServer

RATE = 150
SECONDS = 2
EXPECTED = RATE * SECONDS


def _table_items(settings: Settings) -> list[dict[str, dict[str, str]]]:
    pages = aws.client("dynamodb", settings).get_paginator("scan")
    return [
        item for page in pages.paginate(TableName=settings.alerts_table) for item in page["Items"]
    ]


@pytest.mark.integration
def test_every_record_is_scored_and_put_once(
    local_stack: Settings, generator_model_dir: Path, tmp_path: Path
) -> None:
    settings = fresh(local_stack.model_copy(update={"model_dir": generator_model_dir}), tmp_path)
    with RunningServer(generator_model_dir, endpoint_name=settings.sagemaker_endpoint) as server:
        settings = settings.model_copy(update={"model_endpoint_url": server.url})
        consumer = NaiveConsumer(settings, idle_sleep=0.05).start()
        subprocess.run(
            [
                *(sys.executable, "-m", "fraudstream"),
                *produce_args(rate=RATE, duration=SECONDS, cards=500),
            ],
            env=environment(settings),
            capture_output=True,
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        for target in (EXPECTED // 3, EXPECTED):  # stopping mid-response and resuming loses none
            tally = consumer.run(
                lambda n=target: consumer.tally.processed >= n or time.monotonic() > deadline
            )
        # keep polling a little: nothing is read twice and nothing more arrives
        settle = time.monotonic() + 1.5
        tally = consumer.run(lambda: time.monotonic() > settle)

    assert tally.processed == EXPECTED
    assert tally.duplicates == 0 and not tally.invalid
    assert len(tally.transactions) == EXPECTED
    assert tally.scored_by == {"endpoint": EXPECTED}
    assert consumer.scorer.counts["requests"] == EXPECTED  # one model call per record
    assert sum(tally.decisions.values()) == EXPECTED
    assert len(tally.latencies) == EXPECTED
    assert all(math.isfinite(x) and 0 < x < 60 for x in tally.latencies)

    items = _table_items(settings)  # one PutItem per transaction, whatever its decision
    assert sorted(i["transaction_id"]["S"] for i in items) == sorted(tally.transactions)
    assert {i["decision"]["S"] for i in items} <= {"approve", "review", "block"}
