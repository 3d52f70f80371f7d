"""``fraudstream rules test``: backtest a decision rules file on labelled transactions.

The command wires things together: rows from the lake (:mod:`fraudstream.rules.lake_source`)
or from history (:mod:`fraudstream.rules.history_source`), the model's thresholds from its
manifest, the measurement (:mod:`fraudstream.rules.scorecard`) and the text or JSON output.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from fraudstream.cli.context import CliContext
from fraudstream.errors import FraudstreamError

_AGO = re.compile(r"^(\d+(?:\.\d+)?)(h|d)$")
_AGO_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1)}


def moment(text: str, now: datetime) -> datetime:
    """An ISO 8601 date or time (UTC unless it names a zone), or a span before ``now`` such
    as ``35d`` or ``12h``: what a scheduled job passes, since it cannot name a fixed date."""
    ago = _AGO.match(text.strip())
    if ago:
        return now - float(ago.group(1)) * _AGO_UNITS[ago.group(2)]
    found = datetime.fromisoformat(text)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


class _Moment(click.ParamType):
    """An ISO 8601 date or time; UTC unless it names a zone. ``35d`` / ``12h``: that long ago."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return moment(str(value), datetime.now(UTC))
        except ValueError:
            self.fail(
                f"{value!r} is not a date or time like 2026-12-04 or 2026-12-04T10:00, "
                "nor a span before now like 35d or 12h",
                param,
            )


@click.group()
def rules() -> None:
    """Measure decision rules against labelled transactions."""


@rules.command(
    epilog=(
        "Examples:\n\n"
        "\b\n"
        "  fraudstream rules test                          # the shipped rules on the whole lake\n"
        "  fraudstream rules test my-rules.yaml --since 2026-12-01 --json\n"
        "  fraudstream rules test --data history.parquet --format generator\n"
        "\n"
        "The lake's Delta tables are read at their latest version (what their logs "
        "committed) with the SQL in docs/model.md (section Decisions), which Athena runs "
        "unchanged over the Glue tables."
    )
)
@click.argument(
    "rules_file",
    metavar="[RULES.yaml]",
    required=False,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
)
@click.option("--since", type=_Moment(), help="First event time to include (UTC by default).")
@click.option("--until", type=_Moment(), help="Event time to stop before (UTC by default).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON document.")
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Model whose manifest gives the thresholds when the rules take them from the model "
    "(score.from_model) and that scores --data [default: FRAUDSTREAM_MODEL_DIR].",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Labelled history (Parquet) instead of the lake: features are rebuilt from it and "
    "scored by the model.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["generator", "handbook"]),
    default="generator",
    show_default=True,
    help="Layout of --data.",
)
@click.option(
    "--label-delay-days",
    type=float,
    default=7.0,
    show_default=True,
    help="Label delay of --data in the handbook format (it has no label times).",
)
@click.pass_obj
def test(
    obj: CliContext,
    rules_file: Path | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
    model_dir: Path | None,
    data: Path | None,
    fmt: str,
    label_delay_days: float,
) -> None:
    """Backtest RULES.yaml (default: the rules the processor uses) on labelled transactions.

    Reads the lake's transactions in [--since, --until) joined with the labels that have
    arrived, rebuilds the columns the rules read from each transaction's features (as the
    processor does), applies the score policy, the review budget (replayed micro-batch by
    micro-batch) and every rule, and prints, for the model alone and for the whole policy:
    alerts, precision, recall, reviews against the budget, blocks and their precision against
    the model's promise; then per rule: hits, hit rate, precision, recall, and the alerts,
    recall and budget it adds to the model alone. Disabled rules are measured as if on.
    FRAUDSTREAM_RULES_PATH, FRAUDSTREAM_MODEL_DIR, FRAUDSTREAM_BUCKET and AWS_ENDPOINT_URL
    apply as for the processor.
    """
    from fraudstream.rules import render, scorecard
    from ml_model.errors import ArtifactError
    from processor.decisions import load_rules

    settings = obj.settings
    path = rules_file or settings.rules_path
    config = load_rules(path)
    label = str(path) if path else "(default) processor/decisions/rules.yaml"
    folder = model_dir or settings.model_dir
    try:
        model = scorecard.model_thresholds(folder)
    except ArtifactError as error:
        if data is not None or config.score.from_model:
            raise FraudstreamError(
                f"{error}; the rules take their thresholds from the model (score.from_model)"
                if data is None
                else str(error)
            ) from error
        model = None
    if data is not None:
        from fraudstream.rules.history_source import read_history

        rows = read_history(
            data,
            fmt,
            folder,
            since=since,
            until=until,
            label_delay_ms=int(label_delay_days * 86_400_000),
        )
    else:
        from fraudstream.rules.lake_source import read_lake

        try:
            rows = read_lake(settings, since, until)
        except ValueError as error:
            raise click.BadParameter(str(error)) from error
    if model is not None and rows.model_versions and model.version not in rows.model_versions:
        click.echo(
            f"note: the rows were scored by {', '.join(rows.model_versions)}; the thresholds "
            f"come from {model.version} ({folder})",
            err=True,
        )
    card = scorecard.measure(rows, config, rules_file=label, model=model)
    if as_json:
        click.echo(json.dumps(card.to_json(), indent=2))
    else:
        click.echo(render.render(card), nl=False)
