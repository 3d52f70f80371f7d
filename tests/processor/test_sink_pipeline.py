"""The sink a batch behind Spark, through a real query on the emulator's streams: Spark commits
a batch the sink then fails on; the failure stops the query, the next start rewinds that commit
and Spark hands the same rows again, so every transaction reaches a finished batch once."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from fraudstream.settings import Settings
from ml_model.features import FeatureConfig
from processor import event_source, rewind
from processor.event_source import options_from_settings
from processor.rows import TX
from processor.sink_pipeline import PipelinedSink
from processor.sink_state import LOG_SCHEMA, SinkState, SinkStore
from processor.windows import WindowSpec
from producer.generator import TransactionGenerator
from producer.simulated import simulated_config
from tests.processor.test_event_source import put

pytestmark = pytest.mark.integration


class Recorder:
    """A sink that keeps each batch's transaction ids and saves an (empty) log per batch, as
    the batch sink does; it fails once on ``fail_on``, after Spark has moved on."""

    def __init__(self, store: SinkStore, fail_on: int | None = None) -> None:
        self.store, self.fail_on = store, fail_on
        self.state = SinkState.empty(FeatureConfig(), WindowSpec(delay_ms=60_000))
        self.batches: dict[int, list[str]] = {}
        self.threads: set[str] = set()

    def process(self, table: pa.Table, batch_id: int) -> None:
        self.threads.add(threading.current_thread().name)
        tx = table.filter(pa.compute.equal(table["kind"], TX))
        if batch_id == self.fail_on:
            raise RuntimeError(f"lake unreachable in batch {batch_id}")
        self.batches[batch_id] = tx["transaction_id"].to_pylist()
        self.store.save(batch_id, self.state, LOG_SCHEMA.empty_table())


def run(spark: Any, settings: Settings, recorder: Recorder) -> BaseException | None:
    """One ``--available-now`` run with the sink a batch behind; what it failed with."""
    event_source.register(spark)
    rewind.rewind(settings, recorder.store)
    behind = PipelinedSink(recorder.process)
    options = options_from_settings(settings, startingPosition="TRIM_HORIZON")
    query = (
        spark.readStream.format("fraudstream")
        .options(**options)
        .load()
        .writeStream.foreachBatch(behind)
        .option("checkpointLocation", f"{settings.checkpoint_dir}/query")
        .trigger(availableNow=True)
        .start()
    )
    failure: BaseException | None = None
    try:
        query.awaitTermination(300)
    except Exception as error:  # noqa: BLE001 - the sink's failure, raised through Spark
        failure = error
    try:
        behind.close()
    except Exception as error:  # noqa: BLE001 - or raised when the last batch fails
        failure = failure or error
    return failure


def test_a_batch_committed_before_the_sink_failed_on_it_is_handed_over_again(
    spark: Any, fresh_streams: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    config = simulated_config(events=600, cards=60, seed=5, fraud_rate=0.0, token_key=b"k", now=now)
    generated = list(itertools.islice(TransactionGenerator(config), 600))
    put(fresh_streams, fresh_streams.stream_name, [g.event.to_json().encode() for g in generated])
    settings = fresh_streams.model_copy(
        update={"checkpoint_location": str(tmp_path / "cp"), "max_records_per_trigger": 150}
    )
    store = SinkStore(f"{settings.checkpoint_dir}/sink-state", settings)

    first = Recorder(store, fail_on=1)
    failure = run(spark, settings, first)
    assert failure is not None and "lake unreachable in batch 1" in str(failure)
    assert list(first.batches) == [0] and first.threads == {"batch-sink_0"}
    commits = Path(settings.checkpoint_dir) / "query" / "commits"
    assert (commits / "1").exists(), "Spark committed batch 1 before the sink finished it"

    second = Recorder(SinkStore(f"{settings.checkpoint_dir}/sink-state", settings))
    assert run(spark, settings, second) is None
    assert min(second.batches) == 1  # batch 1 again, from the same offsets
    ids = first.batches[0] + [i for b in sorted(second.batches) for i in second.batches[b]]
    assert sorted(ids) == sorted(g.event.transaction_id for g in generated)
    assert len(ids) == len(set(ids))
