"""The scorecard as text a person reads at the prompt (pure: a scorecard in, lines out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fraudstream.rules.scorecard import Scorecard
from processor.decisions.backtest import PolicyResult

DASH = "-"


def pct(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value:.{digits}%}"


def count(value: int) -> str:
    return f"{value:,}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns aligned: the first to the left, the others to the right."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _moment(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _policy_row(result: PolicyResult) -> list[str]:
    flagged = result.flagged
    share = None if not result.totals.rows else result.reviews.rows / result.totals.rows
    return [
        result.name,
        count(flagged.rows),
        pct(result.flagged_share, 2),
        pct(flagged.precision),
        pct(result.recall),
        count(result.reviews.rows),
        pct(share, 2),
        count(result.held.rows),
        pct(result.budget_use, 0),
        count(result.blocks.rows),
        pct(result.blocks.precision),
    ]


def render(card: Scorecard) -> str:
    """The scorecard: context, the two policies, the block promise, then one line per rule."""
    result = card.backtest
    totals = result.totals
    budget = (
        "no review budget"
        if totals.review_share is None
        else f"review budget {totals.review_share:.2%} of transactions"
    )
    lines = [
        f"rules {card.rules_file}; thresholds from {card.thresholds_from}: "
        f"review >= {card.review:.4g}, block >= {card.block:.4g}; {budget}",
    ]
    span = f", {_moment(card.span_ms[0])} .. {_moment(card.span_ms[1])} UTC" if card.span_ms else ""
    lines.append(
        f"{card.source}{span}: {count(totals.rows)} transactions, {count(totals.labelled)} "
        f"labelled, {count(totals.frauds)} fraud ({pct(totals.fraud_share, 2)})"
        + (f"; scored by {', '.join(card.model_versions)}" if card.model_versions else "")
    )
    lines.append("")
    lines += table(
        [
            "",
            "flagged",
            "share",
            "precision",
            "recall",
            "reviews",
            "share",
            "outside budget",
            "budget used",
            "blocks",
            "block precision",
        ],
        [_policy_row(result.model), _policy_row(result.policy)],
    )
    lines.append(
        "outside budget: reviews the budget never rations (block scores the block conditions "
        "refuse, scores from budget.always_review_from)"
    )
    frontier = card.curve_precision_at(result.policy.recall or 0.0)
    if result.policy.recall is not None and frontier is not None:
        lines.append(
            f"the model's own precision at the policy's recall ({pct(result.policy.recall)}): "
            f"{pct(frontier)}"
        )
    verdict = card.block_promise_verdict
    if verdict is not None:
        lines.append(
            f"blocks: {pct(result.policy.blocks.precision)} fraud among "
            f"{count(result.policy.blocks.labelled)} labelled; promised >= "
            f"{pct(card.block_promise, 0)} (the model's validation): "
            f"{promise_verdict(verdict, card.block_precision_upper)}"
        )
    lines.append("")
    rows = [
        [
            rule.name,
            rule.action,
            "on" if rule.enabled else "off",
            count(rule.hits.rows),
            pct(rule.hit_rate, 2),
            pct(rule.hits.precision),
            pct(rule.recall),
            count(rule.added.rows),
            pct(rule.added.precision),
            pct(rule.added_recall, 2),
            pct(rule.budget_use, 0),
            count(rule.upgraded.rows),
            pct(rule.upgraded.precision),
        ]
        for rule in result.rules
    ]
    if rows:
        lines += table(
            [
                "rule",
                "action",
                "",
                "hits",
                "hit rate",
                "precision",
                "recall",
                "adds alerts",
                "their precision",
                "adds recall",
                "of budget",
                "to block",
                "their precision",
            ],
            rows,
        )
        lines.append(
            "adds: alerts the rule raises that the model alone (score, block conditions, "
            "budget) does not; to block: rows it blocks that the model alone does not; "
            "'off' rules are measured as if switched on"
        )
    else:
        lines.append("no rules in the file: the policy is the model alone")
    return "\n".join(lines) + "\n"


VERDICT_WORDS = {"holds": "holds", "unproven": "not shown broken", "broken": "BROKEN"}
"""The block promise's verdicts in a word or three (``Scorecard.block_promise_verdict``)."""


def promise_verdict(verdict: str, upper: float | None) -> str:
    """The block promise's verdict in words, with the 95 % upper bound when it is not kept."""
    if verdict == "holds":
        return VERDICT_WORDS[verdict]
    bound = f"at most {pct(upper)} with 95% confidence"
    if verdict == "unproven":
        return f"below it, but {VERDICT_WORDS[verdict]} ({bound})"
    return f"{VERDICT_WORDS[verdict]} ({bound})"
