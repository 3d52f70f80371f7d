"""``fraudstream train | backtest | serve-model | model deploy|compare|promote``: the fraud
model's commands.

xgboost, flask and the feature code are imported inside the commands so ``fraudstream --help``
stays fast. Options without a value fall back to settings (``FRAUDSTREAM_*`` variables), as each
option's help says.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from fraudstream.cli.context import CliContext
from fraudstream.cli.rules import _Moment

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int:
    """``90s``, ``5m``, ``1h``, ``7d`` -> milliseconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 60s, 5m, 1h or 7d")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


class _Reporter:
    """Progress lines on stderr, at most one per stage every few seconds (readable in CI logs)."""

    def __init__(self, every_seconds: float = 5.0) -> None:
        self.every = every_seconds
        self.last: dict[str, float] = {}
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        click.echo(f"[{time.monotonic() - self.started:6.1f}s] {text}", err=True)

    def features(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self.last.get(stage, 0.0) >= self.every:
            self.last[stage] = now
            self.say(f"{stage}: {done:,}/{total:,} ({done / max(total, 1):.0%})")

    def rounds(self, current: int, best: int, aucpr: float) -> None:
        now = time.monotonic()
        if now - self.last.get("rounds", 0.0) >= self.every:
            self.last["rounds"] = now
            self.say(f"boosting round {current}: validation aucpr {aucpr:.4f} (best round {best})")


def _params(**options: Any) -> Any:
    from ml_model.training.fit import TrainParams

    given = {k: v for k, v in options.items() if v is not None}
    return TrainParams(**given)


_MODEL_OPTIONS = [
    click.option("--max-rounds", type=int, help="Most boosting rounds [default: 1000]."),
    click.option("--learning-rate", type=float, help="XGBoost eta [default: 0.1]."),
    click.option("--max-depth", type=int, help="Tree depth [default: 6]."),
    click.option(
        "--scale-pos-weight", type=float, help="Weight of fraud rows in the loss [default: 1]."
    ),
    click.option(
        "--valid-fraction",
        type=float,
        help="Last share of the training window used for early stopping [default: 0.2].",
    ),
    click.option("--model-seed", type=int, help="XGBoost random seed [default: 0]."),
]


def _model_options(func: Any) -> Any:
    for option in reversed(_MODEL_OPTIONS):
        func = option(func)
    return func


def _train_params(options: dict[str, Any]) -> Any:
    return _params(
        max_rounds=options.get("max_rounds"),
        learning_rate=options.get("learning_rate"),
        max_depth=options.get("max_depth"),
        scale_pos_weight=options.get("scale_pos_weight"),
        valid_fraction=options.get("valid_fraction"),
        seed=options.get("model_seed"),
    )


@click.command()
@click.option(
    "--data",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Labelled history (Parquet). Without it, a generator history is made in memory "
    "from --cards/--days/--seed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["handbook", "generator"]),
    default="generator",
    show_default=True,
    help="Layout of --data.",
)
@click.option("--cards", type=int, default=5_000, show_default=True, help="Generated cards.")
@click.option("--days", type=float, default=30.0, show_default=True, help="Generated days.")
@click.option(
    "--warm-up",
    "warm_up",
    type=float,
    default=0.0,
    show_default=True,
    help="Days of generated history before the --days that only warm the card features up "
    "(30 covers the longest lookback): the model and its monitoring baseline then see cards "
    "with a full history behind them, as a long-running stream does.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option(
    "--fraud-rate", type=float, default=0.01, show_default=True, help="Generated fraud share."
)
@click.option("--train-start", help="First training day, YYYY-MM-DD [default: first day].")
@click.option("--train-end", help="Last training day (inclusive) [default: last day].")
@click.option(
    "--label-delay",
    help="How long fraud labels take to arrive; merchant risk windows end this long before "
    "each transaction, e.g. 60s or 7d [default: 7d for the handbook, the data's median "
    "label delay for generator history].",
)
@click.option(
    "--merchant-bucket",
    help="Time bucket of merchant counts, a divisor of a day [default: 1m when the label "
    "delay is under an hour, else 1h].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Model folder [default: FRAUDSTREAM_MODEL_DIR, artifacts/model].",
)
@click.option(
    "--alert-rate",
    type=float,
    default=0.005,
    show_default=True,
    help="Share of validation transactions sent to review (the alert budget).",
)
@click.option(
    "--block-precision",
    type=float,
    default=0.9,
    show_default=True,
    help="Validation precision required before a score blocks automatically.",
)
@click.option(
    "--block-confidence",
    type=click.FloatRange(0.5, 1.0, max_open=True),
    default=0.95,
    show_default=True,
    help="Confidence that the block precision holds: the threshold is where the Wilson lower "
    "bound of the validation precision reaches --block-precision.",
)
@click.option(
    "--from-lake",
    is_flag=True,
    help="Train on the lake's labelled transactions ([--since, --until)) and register the "
    "model as challenger only if it beats the champion (FRAUDSTREAM_MODEL_DIR) on the last "
    "--eval-days; the champion's feature configuration is used.",
)
@click.option(
    "--since",
    type=_Moment(),
    help="With --from-lake: first event time, or a span before now (35d) for scheduled runs.",
)
@click.option("--until", type=_Moment(), help="With --from-lake: event time to stop before.")
@click.option(
    "--eval-days",
    type=float,
    default=7.0,
    show_default=True,
    help="With --from-lake: the held-out latest labelled days both models are compared on.",
)
@click.option(
    "--challenger-dir",
    metavar="DIR|s3://BUCKET/PREFIX/",
    help="With --from-lake: where a better model is registered, a folder or an S3 prefix "
    "[default: FRAUDSTREAM_CHALLENGER_MODEL_DIR, else artifacts/challenger].",
)
@click.option(
    "--champion",
    metavar="DIR|s3://BUCKET/PREFIX/",
    help="With --from-lake: the model to beat, a folder or an S3 prefix holding model.tar.gz "
    "and manifest.json [default: FRAUDSTREAM_MODEL_DIR].",
)
@_model_options
@click.pass_obj
def train(
    obj: CliContext,
    from_lake: bool,
    since: datetime | None,
    until: datetime | None,
    eval_days: float,
    challenger_dir: str | None,
    champion: str | None,
    data: Path | None,
    fmt: str,
    cards: int,
    days: float,
    warm_up: float,
    seed: int,
    fraud_rate: float,
    train_start: str | None,
    train_end: str | None,
    label_delay: str | None,
    merchant_bucket: str | None,
    out_dir: Path | None,
    alert_rate: float,
    block_precision: float,
    block_confidence: float,
    **options: Any,
) -> None:
    """Train the fraud model on labelled history and write model.tar.gz + manifest.json.

    With --from-lake, train on the lake's labelled transactions and register the result as
    challenger only when it beats the champion on the latest labelled days."""
    from ml_model.data.history import load_history, median_label_delay_ms, parse_day
    from ml_model.features import FeatureConfig
    from ml_model.training.pipeline import train_model

    settings = obj.settings
    report = _Reporter()
    if from_lake:
        _retrain_from_lake(
            obj,
            report,
            since,
            until,
            eval_days,
            str(champion or settings.model_dir),
            str(challenger_dir or settings.challenger_model_dir or "artifacts/challenger"),
            _train_params(options),
        )
        return
    delay_ms = parse_duration_ms(label_delay) if label_delay else None
    if warm_up < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--warm-up")
    if warm_up and (data is not None or train_start):
        raise click.BadParameter(
            "applies to generated history without --train-start (with your own data, set "
            "--train-start that many days after its first day)",
            param_hint="--warm-up",
        )
    warm_start_ms: int | None = None
    if data is None:
        from producer.history import HISTORY_START, generate_history

        warmed = f" after {warm_up:g} days of warm-up" if warm_up else ""
        report.say(f"generating {days:g} days of history{warmed} for {cards:,} cards (seed {seed})")
        if warm_up:
            warm_start_ms = int((HISTORY_START.timestamp() + warm_up * 86_400) * 1000)
        table = generate_history(
            cards=cards,
            days=days + warm_up,
            seed=seed,
            fraud_rate=fraud_rate,
            token_key=settings.card_token_key.get_secret_value().encode(),
        )
        history = load_history(table, "generator")
    else:
        report.say(f"loading {data} ({fmt})")
        fallback = delay_ms if delay_ms is not None else 7 * 86_400_000
        history = load_history(data, fmt, label_delay_ms=fallback)
    if delay_ms is None:
        delay_ms = median_label_delay_ms(history)
    bucket_ms = (
        parse_duration_ms(merchant_bucket)
        if merchant_bucket
        else (60_000 if delay_ms < 3_600_000 else 3_600_000)
    )
    try:
        config = FeatureConfig(label_delay_ms=delay_ms, merchant_bucket_ms=bucket_ms)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    report.say(f"label delay {delay_ms / 1000:g} s, merchant buckets of {bucket_ms / 1000:g} s")
    start = parse_day(train_start) if train_start else warm_start_ms
    end = parse_day(train_end) + 86_400_000 if train_end else None
    outcome = train_model(
        history,
        out_dir=out_dir or settings.model_dir,
        config=config,
        params=_train_params(options),
        train_start_ms=start,
        train_end_ms=end,
        alert_rate=alert_rate,
        block_precision=block_precision,
        block_confidence=block_confidence,
        say=report.say,
        progress=report.features,
        round_progress=report.rounds,
    )
    _print_training(outcome)


def _retrain_from_lake(
    obj: CliContext,
    report: Any,
    since: datetime | None,
    until: datetime | None,
    eval_days: float,
    champion: str,
    challenger: str,
    params: Any,
) -> None:
    """``train --from-lake``: the lake's labelled history, the champion's features, a
    challenger registered only when better on the held-out latest days. Either model may live
    under an S3 prefix (the CronJob on EKS keeps no disk): pulled into, or pushed from, a
    temporary folder."""
    import tempfile

    from fraudstream import aws
    from fraudstream.lake_history import read_lake_history
    from ml_model import model_store
    from ml_model.errors import ModelError
    from ml_model.training.retrain import retrain

    settings = obj.settings
    with tempfile.TemporaryDirectory(prefix="fraudstream-retrain-") as scratch:
        remote = model_store.is_s3(champion) or model_store.is_s3(challenger)
        s3 = aws.client("s3", settings) if remote else None
        try:
            champion_dir = Path(champion)
            if model_store.is_s3(champion):
                champion_dir = model_store.pull(s3, champion, Path(scratch, "champion"))
                report.say(f"champion from {champion}")
            challenger_dir = Path(challenger)
            if model_store.is_s3(challenger):
                challenger_dir = Path(scratch, "challenger")
            history = read_lake_history(settings, since, until)
            report.say(f"{len(history):,} labelled transactions from the lake ({history.source})")
            outcome = retrain(
                history,
                champion_dir=champion_dir,
                challenger_dir=challenger_dir,
                params=params,
                eval_days=eval_days,
                say=report.say,
            )
            if outcome.registered and model_store.is_s3(challenger):
                model_store.push(s3, challenger_dir, challenger)
        except ModelError as error:
            raise click.ClickException(str(error)) from error
    start, end = outcome.eval_window
    click.echo(f"held-out days {start} .. {end}")
    for name, figures in outcome.figures.items():
        click.echo(
            f"  {name:10}  AUC {figures['auc_roc']:.4f}  AP {figures['average_precision']:.4f}"
            f"  CP@100 {figures['card_precision_at_100']:.4f}  ({int(figures['frauds'])} frauds"
            f" in {int(figures['rows']):,})"
        )
    if outcome.registered:
        click.echo(f"registered {outcome.challenger_version} as challenger in {challenger}")
    else:
        click.echo(
            f"{outcome.challenger_version} is not better than the champion "
            f"{outcome.champion_version} on average precision: not registered"
        )


def _print_training(outcome: Any) -> None:
    manifest = outcome.manifest
    metrics = manifest["metrics"]["validation"]
    fit = outcome.fit
    thresholds = outcome.thresholds
    click.echo(f"model {manifest['version']} -> {outcome.archive}")
    click.echo(
        f"  data {manifest['data']['start']} .. {manifest['data']['end']}: "
        f"{fit.train_rows:,} training rows, {fit.valid_rows:,} validation rows"
    )
    click.echo(f"  best round {fit.best_round} of {fit.rounds_run}")
    click.echo(
        f"  validation: AUC ROC {metrics['auc_roc']:.4f}, average precision "
        f"{metrics['average_precision']:.4f}, card precision@100 "
        f"{metrics['card_precision_at_100']:.4f}"
    )
    click.echo(
        f"  thresholds: review >= {thresholds.review:.4f} ({metrics['review_rate']:.2%} of "
        f"validation transactions, precision {metrics['review_precision']:.2f}); block >= "
        f"{thresholds.block:.4f} ({metrics['block_rate']:.2%}, precision "
        f"{metrics['block_precision']:.2f}); frauds caught by either "
        f"{metrics['review_or_block_recall']:.0%}"
    )
    anomaly = manifest.get("anomaly")
    if anomaly:
        click.echo(
            f"  anomaly detector: {anomaly['trees']} trees of {anomaly['max_samples']}, "
            f"anomalous from {anomaly['threshold']:.4f} ({anomaly['share']:.2%} of the "
            "training rows)"
        )


@click.command()
@click.option("--data", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["handbook", "generator"]),
    default="handbook",
    show_default=True,
    help="Layout of --data.",
)
@click.option("--train-start", required=True, help="First training day, YYYY-MM-DD.")
@click.option("--train-end", required=True, help="Last training day (inclusive).")
@click.option("--test-start", required=True, help="First test day.")
@click.option("--test-end", required=True, help="Last test day (inclusive).")
@click.option("--delay-days", type=int, default=7, show_default=True, help="Label delay in days.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Parquet of per-transaction scores (transaction_id, score, ...).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder [default: <output without .parquet>-report].",
)
@click.option(
    "--weeks",
    type=click.IntRange(1, 52),
    default=1,
    show_default=True,
    help="Also evaluate the split shifted back 1..N-1 weeks (same training start); "
    "features are built once.",
)
@click.option(
    "--keep-known-cards",
    is_flag=True,
    help="Keep cards already known to be compromised in the test set (the handbook drops them).",
)
@_model_options
def backtest(
    data: Path,
    fmt: str,
    train_start: str,
    train_end: str,
    test_start: str,
    test_end: str,
    delay_days: int,
    output: Path,
    report_dir: Path | None,
    weeks: int,
    keep_known_cards: bool,
    **options: Any,
) -> None:
    """Train on one window, score a later one; print AUC ROC, AP and card precision@100."""
    from ml_model.data.history import load_history, parse_day
    from ml_model.features import FeatureConfig
    from ml_model.training.backtest import (
        HANDBOOK_BEST,
        Windows,
        run_backtest,
        write_scores,
    )
    from ml_model.training.report import comparison_table, weekly_table, write_report

    day = 86_400_000
    windows = Windows(
        train_start=parse_day(train_start),
        train_end=parse_day(train_end) + day,
        test_start=parse_day(test_start),
        test_end=parse_day(test_end) + day,
    )
    report = _Reporter()
    report.say(f"loading {data} ({fmt})")
    history = load_history(data, fmt, label_delay_ms=delay_days * day)
    results = run_backtest(
        history,
        windows,
        delay_days=delay_days,
        params=_train_params(options),
        config=FeatureConfig(label_delay_ms=delay_days * day),
        exclude_known=not keep_known_cards,
        weeks=weeks,
        say=report.say,
        progress=report.features,
        round_progress=report.rounds,
    )
    result = results[0]
    write_scores(result.scores, output)
    folder = report_dir or output.with_name(output.stem + "-report")
    path = write_report(results, folder, data_source=str(data))
    m = result.metrics
    click.echo(
        f"test: {int(m['rows']):,} transactions, {int(m['frauds']):,} frauds "
        f"({result.excluded_rows:,} rows of known-compromised cards dropped)"
    )
    for key, label in (
        ("auc_roc", "AUC ROC"),
        ("average_precision", "average precision"),
        ("card_precision_at_100", "card precision@100"),
    ):
        mark = "better" if m[key] > HANDBOOK_BEST[key] else "not better"
        click.echo(f"  {label:<20} {m[key]:.4f}  (handbook best {HANDBOOK_BEST[key]:.3f}: {mark})")
    if result.ceiling:
        click.echo(
            "  best card precision@100 possible with delayed labels on this split: "
            f"{result.ceiling['card_precision_at_100']:.4f}"
        )
    click.echo(comparison_table(result))
    if len(results) > 1:
        click.echo(weekly_table(results))
    click.echo(f"scores -> {output}; report -> {path}")


@click.command("serve-model")
@click.option(
    "--host",
    help="Bind address [default: FRAUDSTREAM_MODEL_SERVER_HOST, 127.0.0.1; 0.0.0.0 in a "
    "container].",
)
@click.option(
    "--port", type=int, help="Port [default: FRAUDSTREAM_MODEL_SERVER_PORT, 8080 as SageMaker]."
)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Model folder: model.tar.gz, or the archive extracted as in /opt/ml/model "
    "[default: FRAUDSTREAM_MODEL_DIR].",
)
@click.option(
    "--endpoint-name",
    help="Name answered on /endpoints/<name>/invocations "
    "[default: FRAUDSTREAM_SAGEMAKER_ENDPOINT].",
)
@click.option(
    "--threads", type=int, default=1, show_default=True, help="XGBoost threads per request."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Server processes, each with its own copy of the model "
    "[default: FRAUDSTREAM_MODEL_SERVER_WORKERS, 1].",
)
@click.pass_obj
def serve_model(
    obj: CliContext,
    host: str | None,
    port: int | None,
    model_dir: Path | None,
    endpoint_name: str | None,
    threads: int,
    workers: int | None,
) -> None:
    """Serve the model over HTTP: the SageMaker container contract and runtime API path.

    Runs under gunicorn with a 6 MiB body limit (chunked bodies included), socket timeouts and
    a connection cap (FRAUDSTREAM_MODEL_SERVER_THREADS, _MAX_CONNECTIONS, _TIMEOUT_SECONDS)."""
    from ml_model.serving.server import ServerLimits, serve

    settings = obj.settings
    folder = model_dir or settings.model_dir
    name = endpoint_name or settings.sagemaker_endpoint
    host = host or settings.model_server_host
    port = port or settings.model_server_port
    limits = ServerLimits(
        workers=workers or settings.model_server_workers,
        threads=settings.model_server_threads,
        max_connections=settings.model_server_max_connections,
        timeout_seconds=settings.model_server_timeout_seconds,
    )
    click.echo(
        f"serving {folder} on http://{host}:{port} (endpoint {name}, {limits.workers} "
        f"process(es) x {limits.threads} threads); Ctrl-C stops",
        err=True,
    )
    try:
        serve(
            folder,
            host=host,
            port=port,
            endpoint_name=name,
            nthread=threads,
            limits=limits,
            log_level=settings.log_level,
        )
    except KeyboardInterrupt:
        sys.exit(0)


@click.group()
def model() -> None:
    """Ship the trained model: deploy it, compare a shadow challenger, promote it."""


@model.command()
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Model folder [default: FRAUDSTREAM_MODEL_DIR].",
)
@click.option("--endpoint-name", help="Endpoint [default: FRAUDSTREAM_SAGEMAKER_ENDPOINT].")
@click.option("--bucket", help="S3 bucket for the artifact [default: FRAUDSTREAM_BUCKET].")
@click.option("--role-arn", help="Execution role [default: FRAUDSTREAM_SAGEMAKER_ROLE_ARN].")
@click.option("--image-uri", help="Inference image [default: FRAUDSTREAM_SAGEMAKER_IMAGE_URI].")
@click.option(
    "--instance-type", help="Instance type [default: FRAUDSTREAM_SAGEMAKER_INSTANCE_TYPE]."
)
@click.option(
    "--instance-count",
    type=int,
    help="Instance count [default: FRAUDSTREAM_SAGEMAKER_INSTANCE_COUNT].",
)
@click.option(
    "--capture-percent",
    type=click.IntRange(0, 100),
    help="Data capture sampling [default: FRAUDSTREAM_SAGEMAKER_CAPTURE_PERCENT].",
)
@click.option(
    "--model-data-url",
    help="Roll out an artefact already at s3://<bucket>/models/<version>/model.tar.gz instead "
    "(what CD runs): model and endpoint config are copied from the live ones with only the "
    "model data and --image-uri (default: the live image) changed; --model-dir, --bucket, "
    "--role-arn, --instance-* and --capture-percent do not apply.",
)
@click.option("--wait/--no-wait", default=False, show_default=True, help="Wait for InService.")
@click.pass_obj
def deploy(
    obj: CliContext,
    model_data_url: str | None,
    model_dir: Path | None,
    endpoint_name: str | None,
    bucket: str | None,
    role_arn: str | None,
    image_uri: str | None,
    instance_type: str | None,
    instance_count: int | None,
    capture_percent: int | None,
    wait: bool,
) -> None:
    """Upload the artifact to S3 and create or update the SageMaker model and endpoint, or
    with --model-data-url roll an uploaded artefact onto the live endpoint."""
    from ml_model.deploy import deploy as run_deploy
    from ml_model.deploy import roll_out

    settings = obj.settings

    def say(text: str) -> None:
        click.echo(text, err=True)

    if model_data_url is not None:
        given = [model_dir, bucket, role_arn, instance_type, instance_count, capture_percent]
        if any(option is not None for option in given):
            raise click.UsageError(
                "--model-data-url copies the live configuration: drop --model-dir, --bucket, "
                "--role-arn, --instance-type, --instance-count and --capture-percent"
            )
        result = roll_out(
            settings,
            model_data_url,
            endpoint_name=endpoint_name,
            image_uri=image_uri,
            wait=wait,
            say=say,
        )
    else:
        result = run_deploy(
            settings,
            model_dir or settings.model_dir,
            endpoint_name=endpoint_name,
            bucket=bucket,
            role_arn=role_arn,
            image_uri=image_uri,
            instance_type=instance_type,
            instance_count=instance_count,
            capture_percent=capture_percent,
            wait=wait,
            say=say,
        )
    click.echo(
        f"endpoint {result.endpoint_name} {result.action}: model {result.model_name} "
        f"(version {result.version}) from {result.model_data_url}"
    )


def _review_threshold(folder: Path | None) -> tuple[float | None, str | None]:
    """(review threshold, version) from a model folder's manifest; (None, None) without one."""
    from ml_model.artifact import model_available, read_manifest

    if folder is None or not model_available(folder):
        return None, None
    manifest = read_manifest(folder)
    thresholds = manifest.get("thresholds") or {}
    review = thresholds.get("review")
    return (float(review) if review is not None else None), str(manifest.get("version"))


@model.command()
@click.option("--since", type=_Moment(), help="First event time to include (UTC by default).")
@click.option("--until", type=_Moment(), help="Event time to stop before.")
@click.option(
    "--challenger-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The challenger's folder, for its review threshold "
    "[default: FRAUDSTREAM_CHALLENGER_MODEL_DIR].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def compare(
    obj: CliContext,
    since: datetime | None,
    until: datetime | None,
    challenger_dir: Path | None,
    as_json: bool,
) -> None:
    """Champion against shadow challenger on the lake's labelled transactions.

    Reads the lake's shadow_scores (written while FRAUDSTREAM_CHALLENGER_MODEL_DIR is set)
    joined with the labels that have arrived, and prints for both models AUC ROC, average
    precision, card precision@100 and precision/recall at each one's own review threshold
    (from its manifest), plus the champion's actual decisions."""
    import json

    from fraudstream.shadow_source import read_shadow
    from ml_model.training.compare import compare_models, format_comparison

    settings = obj.settings
    frame = read_shadow(settings, since, until)
    if frame.empty:
        raise click.ClickException(
            "no labelled shadow scores in the lake: run the processor with "
            "FRAUDSTREAM_CHALLENGER_MODEL_DIR set and let labels arrive"
        )
    champion_review, _ = _review_threshold(settings.model_dir)
    challenger_review, _ = _review_threshold(challenger_dir or settings.challenger_model_dir)
    result = compare_models(
        frame, champion_review=champion_review, challenger_review=challenger_review
    )
    versions = (
        ",".join(sorted(frame["champion_version"].astype(str).unique())),
        ",".join(sorted(frame["challenger_version"].astype(str).unique())),
    )
    if as_json:
        click.echo(json.dumps(result | {"versions": list(versions)}, indent=2))
    else:
        click.echo(format_comparison(result, versions))


@model.command()
@click.argument("challenger_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The champion's folder [default: FRAUDSTREAM_MODEL_DIR].",
)
@click.pass_obj
def promote(obj: CliContext, challenger_dir: Path, model_dir: Path | None) -> None:
    """Make the challenger in CHALLENGER_DIR the champion (the old one kept in
    <model dir>.previous). Processes load it when they next start; on AWS, `fraudstream model
    deploy` then switches the endpoint without downtime."""
    from ml_model.errors import ArtifactError
    from ml_model.promote import promote as run_promote

    folder = model_dir or obj.settings.model_dir
    try:
        old, new = run_promote(folder, challenger_dir)
    except ArtifactError as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"champion is now {new} in {folder} (was {old or 'none'}; kept in "
        f"{folder.name}.previous). Restart serve-model and the processor to load it; on AWS run "
        "`fraudstream model deploy` (UpdateEndpoint, no downtime)."
    )
