"""``fraudstream produce``, ``replay``, ``generate`` and ``stream stats``: putting transactions
on the stream and checking what arrived."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console

from fraudstream.cli.context import CliContext
from fraudstream.errors import FraudstreamError
from fraudstream.settings import check_production_safety


def _positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "positive"
        raise FraudstreamError(f"--{name} must be {bound} (got {value:g})")


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise FraudstreamError(f"not a date: {value!r} (use YYYY-MM-DD)") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command()
@click.option(
    "--rate", type=float, default=1000.0, show_default=True, help="Transactions per second to hold."
)
@click.option(
    "--duration", type=float, default=60.0, show_default=True, help="Seconds to produce for."
)
@click.option(
    "--cards",
    type=int,
    default=10_000,
    show_default=True,
    help="Size of the simulated card population.",
)
@click.option(
    "--fraud-rate",
    type=float,
    default=0.01,
    show_default=True,
    help="Share of transactions that are injected fraud.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option(
    "--label-delay",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds before a transaction's label is released to the labels stream.",
)
@click.option(
    "--clock",
    type=click.Choice(["simulated", "live"]),
    default="simulated",
    show_default=True,
    help="A realistic simulation sent at --rate, or event times from the wall clock (load "
    "tests; warns when cards transact unrealistically often).",
)
@click.option(
    "--aggregate/--no-aggregate",
    default=True,
    show_default=True,
    help=(
        "Pack events and labels into KPL aggregated records, one per shard per send: 4 shards "
        "then carry 10,000+ events/s within AWS's 1,000 records/s per shard."
    ),
)
@click.option(
    "--drift",
    "drift_spec",
    metavar="SPEC",
    help="Change the traffic mid-run, from --drift-at on: fraud_xF (fraud scenarios F times as "
    "often), amount_xF (every amount times F), fraud_amount_xF (fraudulent amounts times F); "
    "join several with commas, e.g. fraud_x5,fraud_amount_x0.3.",
)
@click.option(
    "--drift-at",
    type=float,
    help="Seconds into the run the drift starts [default: half of --duration].",
)
@click.pass_obj
def produce(
    obj: CliContext,
    rate: float,
    duration: float,
    cards: int,
    fraud_rate: float,
    seed: int,
    label_delay: float,
    clock: str,
    aggregate: bool,
    drift_spec: str | None,
    drift_at: float | None,
) -> None:
    """Generate transactions with injected fraud and put them on Kinesis at a steady rate.

    --clock simulated (the default) sends realistic, history-like traffic (about three
    transactions per card per day, daily rhythm) at --rate, with event times ending about an
    hour ago. Event time runs faster than the wall clock, so a second of arrival skew
    between shards is many event minutes: the start line says how much skew the processor's
    FRAUDSTREAM_WATERMARK covers (rows further behind are dropped as late). --clock live
    stamps events with the wall clock, so each card transacts every cards/rate seconds: at
    the defaults every 10 s, which the model and rules rightly take for fraud (a warning
    says so). Ground truth goes to the labels stream after --label-delay (event-time seconds
    for simulated, wall seconds for live). Ctrl-C stops after flushing. Stream names, region
    and endpoint come from settings (FRAUDSTREAM_STREAM_NAME, FRAUDSTREAM_LABELS_STREAM_NAME,
    AWS_ENDPOINT_URL, ...). --drift changes the traffic from --drift-at seconds on, to watch
    the model's monitoring react (docs/model.md, "A drift you can watch").
    """
    from producer.app import open_session, stop_on_interrupt
    from producer.blocks import BlockGenerator
    from producer.drift import Drift, drifted, parse_drift
    from producer.generator import GeneratorConfig, TransactionGenerator, default_start
    from producer.progress import Progress, render_summary
    from producer.runner import run_live_blocks, run_replay
    from producer.simulated import live_card_warning, simulated_config, speedup, watermark_for

    _positive("rate", rate)
    _positive("duration", duration)
    _positive("cards", cards)
    _positive("label-delay", label_delay, allow_zero=True)
    _positive("drift-at", drift_at, allow_zero=True)
    drift = Drift()
    if drift_spec is not None:
        try:
            drift = parse_drift(drift_spec)
        except ValueError as error:
            raise FraudstreamError(f"--drift: {error}") from error
    drift_from = duration / 2 if drift_at is None else drift_at
    if not 0 <= fraud_rate < 0.5:
        raise FraudstreamError(f"--fraud-rate must be in [0, 0.5) (got {fraud_rate:g})")
    settings = obj.settings
    check_production_safety(settings)
    session = open_session(settings, timedelta(seconds=label_delay), aggregate=aggregate)
    key = settings.card_token_key.get_secret_value().encode()
    console = Console(stderr=True)
    if clock == "simulated":
        fast = speedup(rate, cards)
        click.echo(
            f"simulated clock: event time runs {fast:,.0f}x the wall clock, so the "
            f"processor's watermark ({settings.watermark}) covers "
            f"{settings.watermark_ms / 1000 / fast:.1f} s of arrival skew between shards; "
            f"FRAUDSTREAM_WATERMARK='{watermark_for(rate, cards)}' covers 10 s",
            err=True,
        )
    else:
        warning = live_card_warning(rate, cards)
        if warning:
            click.echo(f"warning: {warning}", err=True)
    if drift_spec is not None:
        click.echo(f"drift {drift} from {drift_from:g} s into the run", err=True)
    with stop_on_interrupt() as should_stop:
        if clock == "simulated":
            events = round(rate * duration)
            config = simulated_config(
                events=events,
                cards=cards,
                seed=seed,
                fraud_rate=fraud_rate,
                token_key=key,
                now=default_start(),
            )
            summary = run_replay(
                session,
                drifted(TransactionGenerator(config), events, drift, round(drift_from * rate)),
                max_rate=rate,
                should_stop=should_stop,
                on_tick=Progress(console, "produce"),
                tick_every=max(1, round(rate / 2)),
            )
        else:
            generator = BlockGenerator(
                GeneratorConfig(
                    start=default_start(),
                    seed=seed,
                    cards=cards,
                    rate=rate,
                    fraud_rate=fraud_rate,
                    arrivals="uniform",
                    token_key=key,
                )
            )
            summary = run_live_blocks(
                session,
                generator,
                duration=duration,
                label_delay=timedelta(seconds=label_delay),
                should_stop=should_stop,
                on_tick=Progress(console, "produce"),
                drift=drift if drift_spec is not None else None,
                drift_at=drift_from,
            )
    render_summary(Console(), summary, f"produced to {settings.stream_name}")
    if summary.interrupted:
        raise SystemExit(130)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["handbook"]),
    default="handbook",
    show_default=True,
    help="Layout of FILE.",
)
@click.option(
    "--max-rate",
    type=float,
    default=None,
    help="Most transactions per second (default: as fast as the stream takes).",
)
@click.option("--start", "start", default=None, help="First event date to replay (YYYY-MM-DD).")
@click.option("--end", "end", default=None, help="Replay events before this date (YYYY-MM-DD).")
@click.option("--limit", type=int, default=None, help="Replay at most this many transactions.")
@click.option(
    "--label-delay",
    type=float,
    default=7 * 86_400.0,
    show_default=True,
    help="Seconds of EVENT time before a label is released (7 days, like the handbook).",
)
@click.option(
    "--aggregate/--no-aggregate",
    default=True,
    show_default=True,
    help=(
        "Pack events and labels into KPL aggregated records, one per shard per send: 4 shards "
        "then carry 10,000+ events/s within AWS's 1,000 records/s per shard."
    ),
)
@click.pass_obj
def replay(
    obj: CliContext,
    file: Path,
    fmt: str,
    max_rate: float | None,
    start: str | None,
    end: str | None,
    limit: int | None,
    label_delay: float,
    aggregate: bool,
) -> None:
    """Stream a historical dataset into Kinesis in event-time order, labels to the labels feed.

    Event times are kept; fields the dataset lacks (location, category, channel) stay absent.
    """
    import itertools

    from producer import handbook
    from producer.app import open_session, stop_on_interrupt
    from producer.progress import Progress, render_summary
    from producer.runner import run_replay

    _positive("max-rate", max_rate)
    _positive("limit", limit)
    _positive("label-delay", label_delay, allow_zero=True)
    settings = obj.settings
    check_production_safety(settings)
    table = handbook.read_table(file, _date(start), _date(end))
    rows = handbook.transactions(table, settings.card_token_key.get_secret_value().encode())
    if limit is not None:
        rows = itertools.islice(rows, limit)
    session = open_session(settings, timedelta(seconds=label_delay), aggregate=aggregate)
    console = Console(stderr=True)
    click.echo(
        f"replaying {min(table.num_rows, limit or table.num_rows):,} {fmt} transactions", err=True
    )
    with stop_on_interrupt() as should_stop:
        summary = run_replay(
            session,
            rows,
            max_rate=max_rate,
            should_stop=should_stop,
            on_tick=Progress(console, "replay"),
        )
    render_summary(Console(), summary, f"replayed to {settings.stream_name}")
    if summary.interrupted:
        raise SystemExit(130)


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Parquet file to write.",
)
@click.option("--cards", type=int, default=5_000, show_default=True)
@click.option("--days", type=float, default=30.0, show_default=True)
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Live-run density in transactions/s (default: ~3 per card per day).",
)
@click.option("--fraud-rate", type=float, default=0.01, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--label-delay",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds after the event when its label is known (label_time column).",
)
@click.pass_obj
def generate(
    obj: CliContext,
    out: Path,
    cards: int,
    days: float,
    rate: float | None,
    fraud_rate: float,
    seed: int,
    label_delay: float,
) -> None:
    """Write labelled generator history to a Parquet file (training data)."""
    import pyarrow.parquet as pq

    from producer.history import generate_history

    _positive("cards", cards)
    _positive("days", days)
    _positive("rate", rate)
    table = generate_history(
        cards=cards,
        days=days,
        seed=seed,
        fraud_rate=fraud_rate,
        rate=rate,
        label_delay=timedelta(seconds=label_delay),
        token_key=obj.settings.card_token_key.get_secret_value().encode(),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out, compression="zstd")
    frauds = sum(table["is_fraud"].to_pylist())
    click.echo(f"wrote {table.num_rows:,} transactions ({frauds:,} fraudulent) to {out}")


@click.group()
def stream() -> None:
    """Inspect the Kinesis streams."""


@stream.command()
@click.option("--labels", is_flag=True, help="Inspect the labels stream instead.")
@click.option("--show", type=int, default=3, show_default=True, help="Print this many records.")
@click.pass_obj
def stats(obj: CliContext, labels: bool, show: int) -> None:
    """Read the whole stream back and count what arrived (valid, invalid by reason, per shard)."""
    from fraudstream import aws
    from fraudstream.events import InvalidEvent, LabelRecord, parse_event
    from fraudstream.stream_dump import read_stream
    from producer.app import require_stream

    settings = obj.settings
    name = settings.labels_stream_name if labels else settings.stream_name
    client = aws.client("kinesis", settings)
    require_stream(client, name)
    total, shards, verdicts, ids = 0, Counter[str](), Counter[str](), Counter[str]()
    samples: list[str] = []
    for record in read_stream(client, name):
        total += 1
        shards[record.shard_id] += 1
        try:
            if labels:
                label = LabelRecord.from_json(record.data)
                verdicts[label.scenario] += 1
                ids[label.transaction_id] += 1
            else:
                event = parse_event(record.data, max_future=timedelta(days=36500))
                verdicts["valid"] += 1
                ids[event.transaction_id] += 1
        except InvalidEvent as error:
            verdicts[f"invalid: {error.reason}"] += 1
        except (ValueError, KeyError) as error:
            verdicts[f"invalid: {type(error).__name__}"] += 1
        if len(samples) < show:
            samples.append(record.data.decode(errors="replace"))
    duplicates = sum(c - 1 for c in ids.values() if c > 1)
    click.echo(
        f"stream {name}: {total:,} records, {len(ids):,} distinct transaction ids, "
        f"{duplicates:,} duplicates"
    )
    for shard, count in sorted(shards.items()):
        click.echo(f"  {shard}: {count:,}")
    for verdict, count in verdicts.most_common():
        click.echo(f"  {verdict}: {count:,}")
    for sample in samples:
        click.echo("  " + json.dumps(json.loads(sample)) if sample.startswith("{") else sample)
