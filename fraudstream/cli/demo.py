"""``fraudstream demo``: the main job on the embedded local stack (what ``make demo`` runs).

Starts the local stack, trains a model if there is none, starts the model server and the
processor, produces transactions with injected fraud for ``--duration`` seconds while a live
view shows what the processor does, waits for it to catch up, then prints a summary read from
the lake, writes an HTML report, and stops everything it started.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fraudstream.cli.context import CliContext
from fraudstream.errors import FraudstreamError


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise FraudstreamError(f"--{name} must be positive (got {value:g})")


@click.command()
@click.option(
    "--rate", type=float, default=500.0, show_default=True, help="Transactions per second."
)
@click.option(
    "--duration", type=float, default=120.0, show_default=True, help="Seconds of production."
)
@click.option("--cards", type=int, default=20_000, show_default=True, help="Simulated cards.")
@click.option(
    "--fraud-rate", type=float, default=0.01, show_default=True, help="Share of injected fraud."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Generator seed.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML report [default: <state dir>/demo/<run>/report.html].",
)
@click.option(
    "--train-cards",
    type=int,
    default=5_000,
    show_default=True,
    help="Cards of generated history when a model must be trained first.",
)
@click.option(
    "--train-days",
    type=float,
    default=44.0,
    show_default=True,
    help="Days of generated history the model trains on when it must be trained first. Its "
    "first days hold cards with little history, as a stream always has (new cards, a first "
    "start); its last fifth, the validation rows and the drift baseline, holds cards with the "
    "features' full 30-day lookback.",
)
@click.option(
    "--train-warm-up",
    type=float,
    default=0.0,
    show_default=True,
    help="Days of generated history before --train-days that only warm the features up (no "
    "training rows). A model that never sees cards with little history flags most of them: "
    "with 30 (and 14 training days) the default demo flagged 17.6 % of its transactions, "
    "with 0 (and 44) 1.7 % (docs/model.md, Decisions).",
)
@click.option(
    "--drift",
    metavar="SPEC",
    help="Change the traffic mid-run to watch the model's monitoring react, e.g. fraud_x5 "
    "(see `fraudstream produce --help`); off by default.",
)
@click.option(
    "--drift-at",
    type=float,
    help="Seconds into production the drift starts [default: half of --duration].",
)
@click.option("--no-live", is_flag=True, help="Print progress lines instead of the live view.")
@click.option("--keep-stack", is_flag=True, help="Leave the emulator running afterwards.")
@click.pass_obj
def demo(
    obj: CliContext,
    rate: float,
    duration: float,
    cards: int,
    fraud_rate: float,
    seed: int,
    report_path: Path | None,
    train_cards: int,
    train_days: float,
    train_warm_up: float,
    drift: str | None,
    drift_at: float | None,
    no_live: bool,
    keep_stack: bool,
) -> None:
    """Run the whole product locally for --duration seconds and report what it caught.

    Everything runs on this machine: the AWS emulator, the model server, the Spark processor
    and the producer. The summary and the report are read from the lake the run wrote.
    Ctrl-C stops everything cleanly.
    """
    from fraudstream.demo.runner import DemoOptions, run

    _positive("rate", rate)
    _positive("duration", duration)
    _positive("cards", cards)
    _positive("train-cards", train_cards)
    _positive("train-days", train_days)
    if train_warm_up < 0:
        raise FraudstreamError(f"--train-warm-up must be 0 or more (got {train_warm_up:g})")
    if not 0 <= fraud_rate < 0.5:
        raise FraudstreamError(f"--fraud-rate must be in [0, 0.5) (got {fraud_rate:g})")
    if drift is not None:
        from producer.drift import parse_drift

        try:
            parse_drift(drift)
        except ValueError as error:
            raise FraudstreamError(f"--drift: {error}") from error
    options = DemoOptions(
        rate=rate,
        duration=duration,
        cards=cards,
        fraud_rate=fraud_rate,
        seed=seed,
        train_cards=train_cards,
        train_days=train_days,
        train_warm_up=train_warm_up,
        live=not no_live,
        keep_stack=keep_stack,
        report_path=report_path,
        drift=drift,
        drift_at=drift_at,
    )
    console = Console()
    try:
        result = run(obj.settings, options, console)
    except KeyboardInterrupt:
        console.print("[bold cyan]demo[/]  interrupted: everything it started is stopped")
        raise SystemExit(130) from None
    outcome = result.outcome
    scenarios = Table(title="Detected vs injected fraud (from the lake)")
    for column in ("scenario", "injected", "flagged", "blocked", "recall"):
        scenarios.add_column(column, justify="left" if column == "scenario" else "right")
    for s in outcome.scenarios:
        recall = "n/a" if s.recall is None else f"{s.recall:.0%}"
        scenarios.add_row(s.scenario, f"{s.injected:,}", f"{s.flagged:,}", f"{s.blocked:,}", recall)
    console.print(scenarios)
    facts = Table(title="Run", show_header=False)
    for key, value in result.facts.items():
        facts.add_row(key, str(value))

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    facts.add_row("decisions", ", ".join(f"{k} {v:,}" for k, v in outcome.decisions.items()))
    facts.add_row(
        "precision / recall (review + block)",
        f"{share(outcome.precision)} / {share(outcome.recall)}",
    )
    if result.policy is not None:
        from fraudstream.rules.render import VERDICT_WORDS

        promise = result.policy["block_promise"]
        verdict = VERDICT_WORDS.get(result.policy.get("block_promise_verdict") or "")
        facts.add_row(
            "blocks that are fraud (promised)",
            f"{share(result.policy['policy']['block_precision'])} "
            f"({'n/a' if promise is None else f'>= {promise:.0%}'})"
            + ("" if verdict is None else f": {verdict}"),
        )
    facts.add_row(
        "lake rows / distinct / duplicates",
        f"{outcome.lake_rows:,} / {outcome.transactions:,} / {outcome.duplicates:,}",
    )
    facts.add_row("quarantined", f"{outcome.quarantined:,}")
    console.print(facts)
    console.print(f"report: {result.report_path}\nsummary: {result.summary_path}")
