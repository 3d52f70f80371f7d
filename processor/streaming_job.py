"""The processor job: ``spark-submit processor/streaming_job.py`` (EKS) or
``fraudstream process`` (local). Settings come from the same ``FRAUDSTREAM_*`` variables.

Runs until stopped (SIGTERM/SIGINT stop the query cleanly), or with ``--available-now``
processes what the streams hold and exits. Checkpoints go to ``settings.checkpoint_dir``
(``<dir>/query`` for Spark's offsets and commits, ``<dir>/sink-state`` for the batch sink's
snapshots and logs): a local path, or ``s3a://`` where the image has hadoop-aws.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from fraudstream import logs
from fraudstream.errors import FraudstreamError
from fraudstream.settings import Settings, load_settings
from ml_model.artifact import ModelBundle, load_model
from ml_model.errors import ArtifactError
from ml_model.scoring.client import ScoringClient
from processor import cell_checkpoint, retired_state, rewind
from processor.batch_sink import BatchSink, SinkParts
from processor.decisions import RulesFile
from processor.heap import FreezeAfterStartUp
from processor.kinesis.metrics import from_progress
from processor.metrics import (
    BatchSummary,
    MetricsServer,
    ProcessorMetrics,
    serve_from_settings,
    timing_line,
)
from processor.progress import ProgressPoller
from processor.shadow import ShadowScorer
from processor.sink_pipeline import PipelinedSink
from processor.sink_state import SinkStore
from processor.sinks.alerts import AlertWriter
from processor.sinks.cloudwatch import ModelMetricsPublisher
from processor.sinks.lake import LakeWriter

log = logging.getLogger("processor")
timing = logging.getLogger("processor.timing")


class ModelMissingError(FraudstreamError):
    """No trained model where settings say it is."""


@dataclass
class JobHandle:
    """A running processor: the query, its sink and its metrics endpoint."""

    query: Any
    sink: BatchSink
    metrics: ProcessorMetrics
    server: MetricsServer | None
    pipeline: PipelinedSink
    poller: ProgressPoller | None = None
    stopped: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.stopped.set()
        self.query.stop()
        self.finish()

    def finish(self) -> None:
        """After the query ended: the sink's last batch written (its failure raised), its last
        progress reports handled, the poller gone."""
        try:
            self.pipeline.close()
        finally:
            self.sink.close()
            self._stop_reporting()

    def _stop_reporting(self) -> None:
        if self.poller is not None:
            self.poller.stop()
        if self.server is not None:
            self.server.stop()


def load_job_model(settings: Settings) -> ModelBundle:
    try:
        return load_model(settings.model_dir)
    except ArtifactError as error:
        raise ModelMissingError(
            f"no model at {settings.model_dir} ({error}); train one with `fraudstream train`"
        ) from error


def make_parts(settings: Settings, model: ModelBundle, metrics: ProcessorMetrics) -> SinkParts:
    root = settings.checkpoint_dir.rstrip("/")
    return SinkParts(
        lake=LakeWriter(settings),
        alerts=AlertWriter(settings),
        store=SinkStore(f"{root}/sink-state", settings, max_logs=settings.state_snapshot_every),
        scorer=ScoringClient.from_settings(settings, fallback=model),
        rules=RulesFile(settings.rules_path),
        metrics=metrics,
        model_metrics=ModelMetricsPublisher.from_settings(settings),
        shadow=ShadowScorer.from_settings(settings, model),
    )


def progress_handler(metrics: ProcessorMetrics) -> Callable[[Mapping[str, Any]], None]:
    """Timings and Kinesis figures from each batch's progress."""

    def handle(report: Mapping[str, Any]) -> None:
        timing.info(timing_line(report))
        behind: dict[str, float] = {}
        records = 0
        for stream, batch in from_progress(report).items():
            records += batch.records
            behind |= {
                f"{stream}/{shard}": m.millis_behind_latest
                for shard, m in batch.shards.items()
                if m.millis_behind_latest is not None
            }
        metrics.record_source(records=records, millis_behind=behind)

    return handle


def start(
    settings: Settings,
    *,
    available_now: bool = False,
    on_batch: Callable[[BatchSummary], None] | None = None,
) -> JobHandle:
    """Start the query and return at once (see :func:`run` to block). ``on_batch`` is called
    with each committed batch's summary (benchmarks use it). The driver's start-up heap is frozen
    after the first batch with rows (:mod:`processor.heap`)."""
    from processor import pipeline
    from processor.spark_session import build_session

    model = load_job_model(settings)
    cell_checkpoint.check(settings)
    retired_state.retire(settings)
    metrics = ProcessorMetrics()
    parts = make_parts(settings, model, metrics)
    rewind.rewind(settings, parts.store)  # a checkpoint it refuses fails before Spark starts
    spark = build_session(settings)
    server = serve_from_settings(metrics, settings)
    sink = BatchSink(settings, model, parts, on_batch=FreezeAfterStartUp(on_batch))
    behind = PipelinedSink(sink.process)
    stream = pipeline.build(spark, settings)
    writer = (
        stream.writeStream.queryName("fraudstream")
        .foreachBatch(behind)
        .option("checkpointLocation", settings.checkpoint_dir.rstrip("/") + "/query")
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    elif settings.trigger_seconds > 0:
        writer = writer.trigger(processingTime=f"{settings.trigger_seconds} seconds")
    query = writer.start()
    sink.open_lake(str(query.id))  # beside the first batch's scan
    poller = ProgressPoller(query, progress_handler(metrics)).start()
    log.info(
        "processor running (query %s): cell %s, model %s, checkpoint %s, metrics %s",
        query.id,
        settings.cell,
        model.version,
        settings.checkpoint_dir,
        server.url if server else "off",
    )
    return JobHandle(query, sink, metrics, server, behind, poller)


def progress_line(summary: BatchSummary, metrics: ProcessorMetrics, total: int) -> str:
    """One line per micro-batch of an ``--available-now`` run: what it did, how far behind the
    streams' tip the processor still is, and when it should have caught up."""
    catch_up = metrics.catch_up
    parts = [f"batch {summary.batch_id}: {summary.rows:,} transactions ({total:,} so far)"]
    behind = catch_up.behind_s
    if behind is not None:
        parts.append(f"{behind:,.0f} s behind the streams' tip")
        backlog = catch_up.backlog_records()
        if backlog is not None and behind > 0:
            parts.append(f"~{backlog:,.0f} records waiting")
        eta = catch_up.eta_s()
        if eta is not None and behind > 0:
            parts.append(f"caught up in ~{eta:,.0f} s")
    return ", ".join(parts)


def run(
    settings: Settings,
    *,
    available_now: bool = False,
    on_batch: Callable[[BatchSummary], None] | None = None,
    on_started: Callable[[JobHandle], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> JobHandle:
    """Run until the query ends: at once when the streams are drained (``available_now``),
    otherwise until SIGTERM/SIGINT, which stop the query between batches. ``on_started`` is
    called once the query runs and the signal handlers are in place (the fault suite uses it)."""
    done = [0]
    handle: JobHandle

    def each_batch(summary: BatchSummary) -> None:
        done[0] += summary.rows
        if progress is not None:
            progress(progress_line(summary, handle.metrics, done[0]))
        if on_batch is not None:
            on_batch(summary)

    handle = start(settings, available_now=available_now, on_batch=each_batch)

    def stop(signum: int, frame: FrameType | None) -> None:
        # Not from the handler itself: the main thread is inside a Py4J call
        # (awaitTermination), and a second call on its socket from here fails as reentrant.
        log.info("signal %d: stopping the query", signum)
        threading.Thread(target=handle.stop, name="stop-query", daemon=True).start()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_started is not None:
            on_started(handle)
        handle.query.awaitTermination()
        handle.finish()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if handle.server is not None:
            handle.server.stop()
    exception = handle.query.exception()
    if exception is not None and not handle.stopped.is_set():
        raise FraudstreamError(f"the streaming query failed: {exception}")
    return handle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fraudstream's streaming processor.")
    parser.add_argument(
        "--available-now", action="store_true", help="process what the streams hold, then exit"
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    logs.configure(settings.log_level)
    run(
        settings,
        available_now=args.available_now,
        progress=log.info if args.available_now else None,
    )


if __name__ == "__main__":  # pragma: no cover - spark-submit entry point
    main()
