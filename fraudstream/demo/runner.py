"""The demo's sequence: local stack, model, model server, processor, producer, live view,
drain, summary from the lake, report, clean-up.

Everything it starts it stops (in reverse order, also on Ctrl-C or a failure), and only what
it started: a stack that was already running stays up, and the run then uses its own stream,
bucket and table names so an earlier run's data cannot blur this run's figures.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from fraudstream import aws, readback
from fraudstream.demo import report
from fraudstream.demo.outcome import Outcome, compute, joined
from fraudstream.demo.processes import Child, free_port, http_ok, produce_args
from fraudstream.errors import FraudstreamError
from fraudstream.live.collector import Collector, scrape_text
from fraudstream.live.metrics import Histogram, HistoryPoint, ScrapeError, Summary, parse
from fraudstream.live.model_watch import ModelWatch
from fraudstream.live.terminal import LiveView
from fraudstream.settings import Settings, to_environment
from fraudstream.stack import lifecycle
from fraudstream.stack.resources import ensure_data_resources

LATENCY = "fraudstream_end_to_end_latency_seconds"
LAST_BATCH = "fraudstream_last_batch_id"
PROGRESS_SECONDS = 10.0  # between progress lines when there is no live view


@dataclass(frozen=True)
class DemoOptions:
    """What ``fraudstream demo`` was asked to do."""

    rate: float = 500.0
    duration: float = 120.0
    cards: int = 20_000
    fraud_rate: float = 0.01
    seed: int = 7
    # Event-time seconds (the simulated clock): the delay the generator-trained model's merchant
    # features assume (`fraudstream train` reads it from the history's labels: 60 s). Labels
    # later than that leave a compromised merchant unseen for longer (measured: 600 s cost 1-2
    # points of recall).
    label_delay: float = 60.0
    drain_timeout: float = 180.0
    train_cards: int = 5_000
    # 44 days: the first hold cold cards the model must know (a demo's state starts empty),
    # the last fifth (validation and the drift baseline) cards with the full 30-day lookback
    train_days: float = 44.0
    train_warm_up: float = 0.0  # days before train_days that only build card history
    live: bool = True
    keep_stack: bool = False
    report_path: Path | None = None
    startup_timeout: float = 180.0
    drift: str | None = None  # producer.drift's spec, e.g. "fraud_x5"; None: steady traffic
    drift_at: float | None = None  # seconds into production [producer default: half]

    @property
    def drift_start(self) -> float | None:
        """Seconds into production the drift starts; None without one (the producer's rule)."""
        if not self.drift:
            return None
        return self.duration / 2 if self.drift_at is None else self.drift_at


@dataclass
class DemoResult:
    """What the run produced: the lake's figures, the run's facts and where the report is."""

    outcome: Outcome
    facts: dict[str, Any]
    report_path: Path
    summary_path: Path
    history: list[HistoryPoint] = field(default_factory=list)
    policy: dict[str, Any] | None = None  # the rules' scorecard on the run's lake


def _run_names(settings: Settings, suffix: str) -> Settings:
    """Own resource names for a run on a stack that was already up (it may hold old data)."""
    run = settings.model_copy(
        update={
            "stream_name": f"{settings.stream_name}-{suffix}",
            "labels_stream_name": f"{settings.labels_stream_name}-{suffix}",
            "bucket": f"{settings.bucket}-{suffix}",
            "alerts_table": f"{settings.alerts_table}-{suffix}",
        }
    )
    ensure_data_resources(run)
    return run


def read_table(settings: Settings, name: str) -> pd.DataFrame:
    """One lake table as the processor wrote it (every row of its current version)."""
    return readback.lake_table(settings, name).to_pandas()


def measure_policy(settings: Settings, say: Callable[[str], None]) -> dict[str, Any] | None:
    """The processor's rules measured on the run's lake (``fraudstream rules test``), or None
    with a note when that fails: the report is still written."""
    from fraudstream.rules import scorecard
    from fraudstream.rules.lake_source import read_lake
    from processor.decisions import load_rules

    try:
        card = scorecard.measure(
            read_lake(settings, None, None),
            load_rules(settings.rules_path),
            rules_file=str(settings.rules_path or "(default)"),
            model=scorecard.model_thresholds(settings.model_dir),
        )
    except (FraudstreamError, OSError, ValueError) as error:
        say(f"warning: the decision policy could not be measured: {error}")
        return None
    result: dict[str, Any] = card.to_json()
    return result


def count_alerts(settings: Settings) -> int:
    dynamodb = aws.client("dynamodb", settings)
    total = 0
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=settings.alerts_table, Select="COUNT"
    ):
        total += page["Count"]
    return total


def ensure_model(
    settings: Settings, options: DemoOptions, log_dir: Path, say: Callable[[str], None]
) -> None:
    """Train a model on generated history when ``settings.model_dir`` holds none."""
    from ml_model.artifact import load_model
    from ml_model.errors import ArtifactError

    try:
        bundle = load_model(settings.model_dir)
        say(f"model {bundle.version} from {settings.model_dir}")
        return
    except ArtifactError:
        pass
    warmed = f" after {options.train_warm_up:g} days of warm-up" if options.train_warm_up else ""
    say(
        f"no model at {settings.model_dir}: training one on {options.train_days:g} days of "
        f"generated history{warmed} ({options.train_cards:,} cards); a minute or two"
    )
    trainer = Child.start(
        "train",
        [
            "train",
            "--cards",
            str(options.train_cards),
            "--days",
            str(options.train_days),
            "--warm-up",
            str(options.train_warm_up),
            "--out",
            str(settings.model_dir),
        ],
        to_environment(settings),
        log_dir,
    )
    status = trainer.wait()
    trainer.stop()
    if status != 0:
        raise trainer.fail(f"failed with status {status}")
    say(f"model trained: {settings.model_dir}")


@contextmanager
def stack_for(
    base: Settings, options: DemoOptions, say: Callable[[str], None]
) -> Iterator[Settings]:
    """The local stack, started here unless already up; stopped after unless kept or not ours."""
    already = lifecycle.status(base).running
    status = lifecycle.up(base)
    settings = base.model_copy(update={"endpoint_url": status.endpoint})
    if already:
        settings = _run_names(settings, uuid.uuid4().hex[:6])
        say(
            f"local stack already up at {status.endpoint}: using stream {settings.stream_name}, "
            f"bucket {settings.bucket}, table {settings.alerts_table}"
        )
    else:
        say(f"local stack started at {status.endpoint}")
    try:
        yield settings
    finally:
        if status.managed and not already and not options.keep_stack:
            lifecycle.stop_emulator(base)
            say("local stack stopped")


def _wait_drained(
    collector: Collector,
    settings: Settings,
    expected: int,
    timeout: float,
    stop: threading.Event,
) -> tuple[bool, float]:
    """Until the processor has decided ``expected`` transactions and stored their labels."""
    began = time.monotonic()
    while time.monotonic() - began < timeout and not stop.is_set():
        decided = sum(collector.snapshot().summary.decisions_total.values())
        if decided >= expected:
            labels = read_table(settings, "labels")
            if labels["transaction_id"].nunique() >= expected:
                return True, time.monotonic() - began
        stop.wait(1.0)
    return False, time.monotonic() - began


def run(base: Settings, options: DemoOptions, console: Console | None = None) -> DemoResult:
    """The whole demo; raises :class:`FraudstreamError` on a failure, after cleaning up."""
    from producer.simulated import watermark_for

    console = console or Console()

    def say(message: str) -> None:
        console.print(f"[bold cyan]demo[/]  {message}")

    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%d-%H%M%S")
    run_dir = base.state_dir / "demo" / run_id
    log_dir = run_dir / "logs"
    stop = threading.Event()
    with stack_for(base, options, say) as stack, ExitStack() as cleanup:  # children first
        settings = stack.model_copy(
            update={
                "checkpoint_location": str(run_dir / "checkpoints"),
                "watermark": watermark_for(options.rate, options.cards),
                "starting_position": "TRIM_HORIZON",
                "metrics_port": free_port(),
                "metrics_host": "127.0.0.1",
                "model_server_port": free_port(),
                "model_server_host": "127.0.0.1",
            }
        )
        ensure_model(settings, options, log_dir, say)
        env = to_environment(settings)
        server = Child.start("model-server", ["serve-model"], env, log_dir)
        cleanup.callback(server.stop)
        model_url = f"http://127.0.0.1:{settings.model_server_port}"
        server.wait_until(lambda: http_ok(model_url + "/ping"), options.startup_timeout, "ready")
        say(f"model server at {model_url}")
        settings = settings.model_copy(update={"model_endpoint_url": model_url})
        env = to_environment(settings)
        processor = Child.start("processor", ["process"], env, log_dir)
        cleanup.callback(processor.stop)
        metrics_url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        say("starting the processor (Spark on local[2]; its first micro-batch can take a minute)")
        # Traffic starts once the first (empty) batch has committed: planning the query and
        # starting its Python workers take tens of seconds that are not the pipeline's latency.
        processor.wait_until(
            lambda: first_batch_committed(metrics_url),
            options.startup_timeout,
            "its first micro-batch committed",
        )
        collector = Collector.from_settings(
            settings, metrics_url=metrics_url, history_seconds=3600.0
        ).start()
        cleanup.callback(collector.stop)
        drift = ""
        if options.drift_start is not None:
            drift = f", drift {options.drift} from {options.drift_start:g} s"
        say(
            f"producing {options.rate:g} transactions/s for {options.duration:g} s "
            f"({options.cards:,} cards, {options.fraud_rate:.1%} injected fraud{drift}); "
            f"logs in {log_dir}"
        )
        producer = Child.start(
            "producer",
            produce_args(
                rate=options.rate,
                duration=options.duration,
                cards=options.cards,
                fraud_rate=options.fraud_rate,
                seed=options.seed,
                label_delay=options.label_delay,
                drift=options.drift,
                drift_at=options.drift_at,
            ),
            env,
            log_dir,
        )
        cleanup.callback(producer.stop)
        expected = round(options.rate * options.duration)
        producing_from = time.monotonic()
        watch = ModelWatch()

        def watch_model(summary: Summary) -> None:
            at = time.monotonic() - producing_from
            for news in watch.observe(at, summary.model):
                say(f"model at {at:,.0f} s: {news}")

        drained, drain_seconds = _show_live(
            collector,
            producer,
            (processor, server),
            settings,
            expected,
            options,
            stop,
            console,
            watch_model,
        )
        if producer.process.returncode != 0:
            raise producer.fail(f"exited with status {producer.process.returncode}")
        if not drained:
            say(
                f"warning: the processor had not caught up {options.drain_timeout:g} s after "
                "the producer finished; the figures cover what it had committed"
            )
        elapsed = time.monotonic() - producing_from
        snapshot = collector.snapshot()
        latency = whole_run_latency(metrics_url)
        processor.stop()
        server.stop()
        say("processor and model server stopped; reading the lake")
        transactions = read_table(settings, "transactions")
        labels = read_table(settings, "labels")
        quarantined = len(read_table(settings, "quarantine"))
        outcome = compute(transactions, labels, quarantined)
        alerts = count_alerts(settings)
        facts = _facts(
            options,
            settings,
            snapshot.summary,
            expected,
            drain_seconds,
            alerts,
            started,
            latency,
            elapsed,
        )
        facts.update({f"model: {k}": v for k, v in watch.report(options.drift_start).items()})
        policy = measure_policy(settings, say)
        report_path = options.report_path or run_dir / "report.html"
        scored = joined(transactions, labels)
        page = report.render(outcome, facts, snapshot.history, scored, policy)
        report.write(report_path, page)
        summary_path = run_dir / "summary.json"
        summary = {"outcome": outcome.to_json(), "run": facts, "policy": policy}
        summary_path.write_text(json.dumps(summary, indent=2, default=str))
        return DemoResult(outcome, facts, report_path, summary_path, list(snapshot.history), policy)
    raise FraudstreamError("unreachable")  # pragma: no cover - the with block returns


def progress_line(summary: Summary) -> str:
    """One line of the live figures, for runs without the live view (logs, CI)."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:,.0f} ms"

    rate = summary.rows_per_second_window
    decisions = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.decisions_total.items()))
    return (
        f"decided {summary.rows_total:,} ({'-' if rate is None else f'{rate:,.0f}'}/s)  "
        f"latency p50 {ms(summary.latency_p50)} p99 {ms(summary.latency_p99)}  "
        f"{decisions or 'no decisions yet'}  quarantined {summary.quarantined_total:,}"
    )


def _show_live(
    collector: Collector,
    producer: Child,
    watched: tuple[Child, ...],
    settings: Settings,
    expected: int,
    options: DemoOptions,
    stop: threading.Event,
    console: Console,
    watch_model: Callable[[Summary], None],
) -> tuple[bool, float]:
    """The live view while producing, then while the processor drains the stream; a
    ``watched`` child (processor, model server) that dies ends the run with its log.
    ``watch_model`` sees the figures every second (the model's drift and recall news)."""
    view = LiveView(collector, console=console) if options.live else None
    last_line = [time.monotonic()]

    def refresh() -> None:
        for child in watched:
            if not child.running:
                raise child.fail(f"stopped unexpectedly (status {child.process.returncode})")
        watch_model(collector.snapshot().summary)
        if view is not None:
            view.update()
        elif time.monotonic() - last_line[0] >= PROGRESS_SECONDS:
            last_line[0] = time.monotonic()
            console.print(f"[bold cyan]demo[/]  {progress_line(collector.snapshot().summary)}")

    if view is not None:
        view.__enter__()
    try:
        while producer.running:
            refresh()
            time.sleep(1.0)
        if producer.process.returncode != 0:
            return False, 0.0
        result: list[tuple[bool, float]] = []
        waiter = threading.Thread(
            target=lambda: result.append(
                _wait_drained(collector, settings, expected, options.drain_timeout, stop)
            ),
            daemon=True,
        )
        waiter.start()
        while waiter.is_alive():
            refresh()
            waiter.join(1.0)
        return result[0] if result else (False, 0.0)
    finally:
        stop.set()
        if view is not None:
            view.__exit__(None, None, None)


def first_batch_committed(metrics_url: str) -> bool:
    """True once the processor at ``metrics_url`` has committed a micro-batch."""
    try:
        batch = parse(scrape_text(metrics_url, timeout=1.0)).gauges.get(LAST_BATCH, {})
    except ScrapeError:
        return False
    return max(batch.values(), default=-1.0) >= 0


def whole_run_latency(metrics_url: str) -> Histogram | None:
    """The processor's end-to-end latency histogram since it started (all of this run)."""
    try:
        return parse(scrape_text(metrics_url)).histograms.get(LATENCY)
    except ScrapeError:
        return None


def _facts(
    options: DemoOptions,
    settings: Settings,
    summary: Summary,
    expected: int,
    drain_seconds: float,
    alerts: int,
    started: datetime,
    latency: Histogram | None,
    elapsed: float,
) -> dict[str, Any]:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 1000:.0f} ms"

    return {
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "rate (transactions/s)": options.rate,
        "duration (s)": options.duration,
        "transactions produced": expected,
        "transactions decided (processor metrics)": summary.rows_total,
        "alerts in DynamoDB": alerts,
        "drain after the producer (s)": round(drain_seconds, 1),
        "throughput (decided / (production + drain) s)": (
            f"{summary.rows_total / max(elapsed, 1e-9):,.0f}/s"
        ),
        "end-to-end latency p50 / p99 (whole run)": (
            f"{ms(latency.quantile(0.5))} / {ms(latency.quantile(0.99))}" if latency else "n/a"
        ),
        "scored by": ", ".join(f"{k}: {v:,}" for k, v in sorted(summary.scored_total.items())),
        "watermark": settings.watermark,
        "endpoint": settings.endpoint_url,
        "stream / bucket / table": (
            f"{settings.stream_name} / {settings.bucket} / {settings.alerts_table}"
        ),
    }
