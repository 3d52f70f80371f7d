"""Two hash-range cells on one 4-shard stream, resharded while both run: between them they
write every transaction and label to the one lake once, an alert for each review or block, and
the card features one processor (the training builder, which the stream equals) computes.

Kinesis is the project's documented double (moto does not reshard faithfully, see
tests/e2e/test_live_reshard.py), reached through ``AWS_ENDPOINT_URL_KINESIS``; the lake, the
alerts table and the rest are the emulator's; the producer and both processors are the real
commands. The merge joins shards 1 and 2 across the cut between the halves, so both cells read
the merged shard, each keeping its own cards' records; the labels stream's one shard straddles
the cut all along. The two cells also commit to the same Delta tables at once, which only the
lake writer's conditional puts keep apart.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from benchmarks.harness import cli, environment
from fraudstream import aws
from fraudstream.events import LabelRecord, parse_event
from fraudstream.lake import delta_log, tables
from fraudstream.readback import alert_ids, lake_table
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream
from ml_model.artifact import load_model
from producer.simulated import watermark_for
from tests.conftest import new_sinks
from tests.e2e import parity
from tests.e2e.runs import double_kinesis_run, shard, shards_read, start, wait_for
from tests.processor.kinesis.fake_kinesis import FakeKinesis

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RATE, CARDS, SECONDS = 40, 200, 40
TX, LABELS = "tx-cells", "labels-cells"


@pytest.fixture
def kinesis_url() -> Iterator[str]:
    fake = FakeKinesis()
    fake.create_stream(TX, 4)
    fake.create_stream(LABELS, 1)
    with fake.serve() as url:
        yield url


def commit_apps(settings: Settings, table: str) -> Counter[str]:
    """How many commits of ``table``'s Delta log each application made."""
    s3 = aws.client("s3", settings)
    prefix = tables.table_prefix(table) + "_delta_log/"
    apps: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):
                body = s3.get_object(Bucket=settings.bucket, Key=item["Key"])["Body"].read()
                apps.update(delta_log.read_commit(body).txns.keys())
    return apps


def test_two_cells_through_a_merge_across_their_cut(
    kinesis_url: str,
    local_stack: Settings,
    generator_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", kinesis_url)  # children inherit it
    run = double_kinesis_run(
        new_sinks(local_stack, tmp_path),
        generator_model_dir,
        TX,
        LABELS,
        watermark_for(RATE, CARDS, wall_seconds=30),
    )
    cells = [run.model_copy(update={"hash_range": f"{i}/2"}) for i in range(2)]
    client = aws.client("kinesis", run)
    processors = [start(cell, f"cell-{cell.cell.label}") for cell in cells]
    producer_log = (tmp_path / "producer.log").open("wb")
    producer = None
    try:
        for processor in processors:
            processor.wait_until(
                lambda p=processor: "processor running" in p.log_path.read_text(), 300, "a query"
            )
        producer = cli(
            environment(run),
            *["produce", "--clock", "simulated", "--rate", str(RATE)],
            *["--duration", str(SECONDS), "--cards", str(CARDS)],
            *["--fraud-rate", "0.05", "--seed", "43"],
            stdout=producer_log,
            stderr=subprocess.STDOUT,
        )
        # Shards 0-3 hold a quarter each; the cut between the cells is between 1 and 2.
        wait_for(lambda: all(shards_read(c) for c in cells), "a committed batch in each cell")
        client.merge_shards(StreamName=TX, ShardToMerge=shard(1), AdjacentShardToMerge=shard(2))
        code = producer.wait(timeout=300)
        assert code == 0, (tmp_path / "producer.log").read_text()
        events = [parse_event(r.data) for r in read_stream(client, TX)]
        labels = [LabelRecord.from_json(r.data) for r in read_stream(client, LABELS)]

        def done() -> bool:
            lake = lake_table(run, "transactions")
            return lake.num_rows >= len(events) and lake_table(run, "labels").num_rows >= len(
                labels
            )

        wait_for(done, "every transaction and label in the lake")
        for processor in processors:
            assert processor.running, processor.tail(40)
    finally:
        if producer is not None and producer.poll() is None:
            producer.send_signal(signal.SIGINT)
            producer.wait(timeout=120)
        producer_log.close()
        for processor in processors:
            processor.stop(grace=30)

    assert {shard(4)} <= shards_read(cells[0]) & shards_read(cells[1])
    assert shards_read(cells[0]) == {shard(0), shard(1), shard(4)}
    assert shards_read(cells[1]) == {shard(2), shard(3), shard(4)}

    transactions = lake_table(run, "transactions")
    ids = Counter(transactions["transaction_id"].to_pylist())
    assert set(ids) == {e.transaction_id for e in events} and max(ids.values()) == 1
    lake_labels = Counter(lake_table(run, "labels")["transaction_id"].to_pylist())
    assert set(lake_labels) == {label.transaction_id for label in labels}
    assert max(lake_labels.values()) == 1
    flagged = transactions.filter(pc.is_in(transactions["decision"], pa.array(["review", "block"])))
    assert alert_ids(run) == Counter(flagged["transaction_id"].to_pylist())

    # The card features are exactly one processor's (the builder's): a card's history lives in
    # one cell. Merchant risk is each cell's own (docs/deploy.md, "Cells").
    config = load_model(generator_model_dir).feature_config
    built = parity.builder_features(events, labels, config)
    differ = parity.differences(parity.lake_features(transactions), built)
    assert not differ.drop(columns=list(parity.MERCHANT_FEATURES)).to_numpy().any()

    # Both cells committed to the same Delta tables, each under its own query id.
    apps = commit_apps(run, "transactions")
    assert len(apps) == 2, json.dumps(apps)
    assert tables.open_table(run, "transactions") is not None
