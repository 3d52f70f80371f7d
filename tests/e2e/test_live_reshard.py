"""A live reshard: one shard split and two merged while a checkpointed processor reads, then
``kill -9`` and a restart. Nothing lost or repeated, each card's transactions processed in the
order they were sent, and the features those of the training builder.

The emulator's Kinesis does not reshard faithfully (moto keeps routing puts to a closed parent
and renumbers its records), so Kinesis here is the project's documented double,
:class:`tests.processor.kinesis.fake_kinesis.FakeKinesis`, served over HTTP and reached through
``AWS_ENDPOINT_URL_KINESIS``; the lake, the alerts table and everything else are the emulator's,
and the producer and the processor are the real commands.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.harness import cli, environment
from fraudstream import aws
from fraudstream.events import LabelRecord, parse_event
from fraudstream.readback import lake_table
from fraudstream.settings import Settings
from fraudstream.stream_dump import read_stream
from ml_model.artifact import load_model
from producer.simulated import watermark_for
from tests.conftest import new_sinks
from tests.e2e import parity
from tests.e2e.runs import double_kinesis_run, drain, shard, shards_read, start, wait_for
from tests.processor.kinesis.fake_kinesis import HASH_MAX, FakeKinesis

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RATE, CARDS = 50, 300
TX, LABELS = "tx-reshard", "labels-reshard"


@pytest.fixture
def kinesis_url() -> Iterator[str]:
    """The Kinesis double over HTTP, with a two-shard transactions stream and a labels stream."""
    fake = FakeKinesis()
    fake.create_stream(TX, 2)
    fake.create_stream(LABELS, 1)
    with fake.serve() as url:
        yield url


def test_split_and_merge_while_running_then_kill_and_restart(
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
    client = aws.client("kinesis", run)
    processor = start(run, "before-kill")
    producer_log = (tmp_path / "producer.log").open("wb")
    producer = None
    try:
        processor.wait_until(
            lambda: "processor running" in processor.log_path.read_text(), 300, "its query"
        )
        producer = cli(
            environment(run),
            *["produce", "--clock", "simulated", "--rate", str(RATE), "--duration", "600"],
            *["--cards", str(CARDS), "--fraud-rate", "0.05", "--seed", "41"],
            stdout=producer_log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: bool(shards_read(run)), "a committed batch")
        # Shard 0 holds [0, H/2), shard 1 [H/2, H]: the split makes 2 [0, H/4) and
        # 3 [H/4, H/2), the merge of 3 and 1 makes 4 [H/4, H].
        client.split_shard(
            StreamName=TX,
            ShardToSplit="shardId-000000000000",
            NewStartingHashKey=str((HASH_MAX + 1) // 4),
        )
        wait_for(lambda: {shard(2), shard(3)} <= shards_read(run), "both children read")
        client.merge_shards(StreamName=TX, ShardToMerge=shard(3), AdjacentShardToMerge=shard(1))
        wait_for(lambda: shard(4) in shards_read(run), "the merged shard read")
        assert processor.running, processor.tail(40)
        processor.kill()  # kill -9 of the driver, its JVM and its workers, mid-stream
    finally:
        if producer is not None:
            producer.send_signal(signal.SIGINT)  # stop after flushing: exit status 130
            code = producer.wait(timeout=120)
            assert code in (0, 130), (tmp_path / "producer.log").read_text()
        producer_log.close()
        processor.stop(grace=30)
    drain(run, "after-kill")

    events = [parse_event(r.data) for r in read_stream(client, TX)]  # every shard, closed too
    labels = [LabelRecord.from_json(r.data) for r in read_stream(client, LABELS)]
    transactions = lake_table(run, "transactions")
    ids = Counter(transactions["transaction_id"].to_pylist())
    assert set(ids) == {e.transaction_id for e in events} and max(ids.values()) == 1
    assert set(transactions["shard_id"].to_pylist()) == {shard(n) for n in range(5)}

    # Each card's transactions were processed in the order they were sent (event-time order,
    # as the producer sends them): never a later one in an earlier batch.
    ordered = transactions.sort_by([("card_id", "ascending"), ("event_time", "ascending")])
    cards = ordered["card_id"].to_numpy(zero_copy_only=False)
    batches = ordered["batch_id"].to_numpy()
    same_card = cards[1:] == cards[:-1]
    assert (batches[1:][same_card] >= batches[:-1][same_card]).all()

    config = load_model(generator_model_dir).feature_config
    built = parity.builder_features(events, labels, config)
    differ = parity.differences(parity.lake_features(transactions), built)
    causes = parity.exposed(transactions, lake_table(run, "labels"))
    exposed = set().union(*causes.values())
    assert not differ.drop(columns=list(parity.MERCHANT_FEATURES)).to_numpy().any()
    assert not differ.loc[~differ.index.isin(exposed)].to_numpy().any()
    sizes = {cause: len(rows) for cause, rows in causes.items()}
    assert len(exposed) <= 0.05 * len(built), f"exposed rows by cause: {sizes}"
