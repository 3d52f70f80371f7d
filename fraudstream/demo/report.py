"""The demo's HTML report: one self-contained file (plots embedded as PNG) a user can open or
attach to a ticket.

Plots: throughput and end-to-end latency over the run (from the live collector's history),
the score distribution of genuine vs fraudulent transactions, and the precision-recall curve
of the score with the decisions' operating point (and the model alone's), so a policy below the
model's frontier shows at a glance. The figures in the tables are the
:class:`~fraudstream.demo.outcome.Outcome`, read from the lake, and, when given, the decision
policy's scorecard (``fraudstream rules test`` on the same lake: the blocks against their
promise and each rule's precision and what it adds).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudstream.demo.outcome import FLAGGED, Outcome
from fraudstream.live.metrics import HistoryPoint
from fraudstream.rules.render import promise_verdict


def pr_curve(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold (highest first)."""
    if truth.size == 0 or not truth.any():
        return np.empty(0), np.empty(0)
    order = np.argsort(-scores, kind="stable")
    ranked = truth[order].astype(float)
    true_pos = np.cumsum(ranked)
    flagged = np.arange(1, ranked.size + 1)
    last_of_tie = np.r_[np.diff(scores[order]) != 0, True]
    precision = (true_pos / flagged)[last_of_tie]
    recall = (true_pos / ranked.sum())[last_of_tie]
    return precision, recall


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _plots(
    history: Sequence[HistoryPoint],
    scored: pd.DataFrame,
    outcome: Outcome,
    policy: Mapping[str, Any] | None,
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    images = []
    start = history[0].time if history else 0.0
    t = [p.time - start for p in history]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    top.plot(t, [p.rows_per_second or 0 for p in history], color="#1f77b4")
    top.set_ylabel("transactions / s")
    top.set_title("Throughput and end-to-end latency (moving window)")
    for name, values, color in (
        ("p50", [p.latency_p50 for p in history], "#2ca02c"),
        ("p99", [p.latency_p99 for p in history], "#d62728"),
    ):
        bottom.plot(
            t, [v * 1000 if v is not None else np.nan for v in values], label=name, color=color
        )
    bottom.set_ylabel("latency (ms)")
    bottom.set_xlabel("seconds since the processor started")
    bottom.legend()
    images.append(_png(fig))
    plt.close(fig)

    labelled = scored[scored["is_fraud"].notna()]
    fraud = labelled["is_fraud"].astype(bool).to_numpy()
    scores = labelled["score"].to_numpy(dtype=float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    bins = np.linspace(0, 1, 41)
    left.hist(scores[~fraud], bins=bins, alpha=0.6, label="genuine", log=True)
    left.hist(scores[fraud], bins=bins, alpha=0.6, label="fraud", log=True)
    left.set_xlabel("model score")
    left.set_ylabel("transactions (log)")
    left.set_title("Score distribution")
    left.legend()
    precision, recall = pr_curve(scores, fraud)
    right.plot(recall, precision, color="#9467bd", label="model score, every threshold")
    alone = (policy or {}).get("model_alone") or {}
    if alone.get("precision") is not None and alone.get("recall") is not None:
        right.scatter(
            [alone["recall"]], [alone["precision"]], color="#2ca02c", zorder=3, label="model alone"
        )
    if outcome.precision is not None and outcome.recall is not None:
        right.scatter(
            [outcome.recall],
            [outcome.precision],
            color="#d62728",
            zorder=4,
            label="decisions (review + block)",
        )
    right.legend(loc="lower left")
    right.set_xlabel("recall")
    right.set_ylabel("precision")
    right.set_xlim(0, 1)
    right.set_ylim(0, 1.02)
    right.set_title("Precision-recall of the score")
    images.append(_png(fig))
    plt.close(fig)
    return images


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fmt_share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _share(value: Any) -> str:
    return fmt_share(None if value is None else float(value))


def _promise_verdict(policy: Mapping[str, Any]) -> str:
    """The block promise's verdict in the words ``fraudstream rules test`` prints."""
    verdict = policy.get("block_promise_verdict")
    if verdict is None:
        return "no labelled block to check"
    return promise_verdict(verdict, policy.get("block_precision_upper"))


def policy_section(policy: Mapping[str, Any] | None) -> str:
    """The decision policy: model alone against the whole policy, the block promise, and one
    row per rule (a JSON scorecard of ``fraudstream rules test``)."""
    if not policy:
        return ""
    rows = []
    for key in ("model_alone", "policy"):
        part = policy[key]
        rows.append(
            (
                part["name"],
                f"{part['flagged']['rows']:,}",
                _share(part["precision"]),
                _share(part["recall"]),
                f"{part['reviews']['rows']:,}",
                f"{part['blocks']['rows']:,}",
                _share(part["block_precision"]),
                "-" if part["budget_use"] is None else _share(part["budget_use"]),
            )
        )
    promise = policy.get("block_promise")
    verdict = _promise_verdict(policy)
    rules = [
        (
            rule["name"],
            rule["action"] if rule["enabled"] else "off",
            f"{rule['hits']['rows']:,}",
            _share(rule["precision"]),
            f"{rule['added_alerts']['rows']:,}",
            _share(rule["added_alerts"]["precision"]),
            _share(rule["added_recall"]),
        )
        for rule in policy.get("rules", [])
    ]
    thresholds = policy["thresholds"]
    return f"""<h2>Decision policy</h2>
<p>Thresholds from {html.escape(str(thresholds["from"]))}: review at {thresholds["review"]:.4g},
block at {thresholds["block"]:.4g}; review budget {_share(policy.get("review_budget"))} of
transactions. Blocks: {_share(policy["policy"]["block_precision"])} fraud, promised at least
{_share(promise)} on the model's validation data: {html.escape(verdict)}.</p>
{
        _table(
            [
                "",
                "flagged",
                "precision",
                "recall",
                "reviews",
                "blocks",
                "block precision",
                "budget used",
            ],
            rows,
        )
    }
{
        _table(
            [
                "rule",
                "action",
                "hits",
                "precision",
                "adds alerts",
                "their precision",
                "adds recall",
            ],
            rules,
        )
    }
<p>"Adds": alerts the rule raises that the model alone does not; rules that are off are
measured as if switched on (<code>fraudstream rules test</code>).</p>
"""


def render(
    outcome: Outcome,
    run: Mapping[str, Any],
    history: Sequence[HistoryPoint],
    scored: pd.DataFrame,
    policy: Mapping[str, Any] | None = None,
) -> str:
    """The report as one HTML document. ``run``: the run's facts shown as a table (rate,
    duration, throughput, latency, resources); ``policy``: the scorecard JSON of the rules on
    the run's lake, when measured."""
    images = _plots(history, scored, outcome, policy)
    scenarios = [
        (s.scenario, s.injected, s.flagged, s.blocked, fmt_share(s.recall))
        for s in outcome.scenarios
    ]
    decisions = [(k, v) for k, v in outcome.decisions.items()]
    facts = [(k, v) for k, v in run.items()]
    accounting = [
        ("rows in the lake", outcome.lake_rows),
        ("distinct transactions", outcome.transactions),
        ("duplicates", outcome.duplicates),
        ("labels in the lake", outcome.labels),
        ("quarantined records", outcome.quarantined),
        (f"precision ({' + '.join(FLAGGED)})", fmt_share(outcome.precision)),
        ("recall", fmt_share(outcome.recall)),
    ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fraudstream demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }}
th {{ background: #f3f3f3; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Fraudstream demo report</h1>
<p>Generated {generated}. Every figure below is read from the lake the run wrote.</p>
<h2>Run</h2>{_table(["", ""], facts)}
<h2>Detected vs injected fraud</h2>
{_table(["scenario", "injected", "flagged (review/block)", "blocked", "recall"], scenarios)}
<h2>Decisions and accounting</h2>
{_table(["decision", "transactions"], decisions)}
{_table(["", ""], accounting)}
{policy_section(policy)}
<h2>Throughput and latency</h2>
<img alt="throughput and latency" src="data:image/png;base64,{images[0]}">
<h2>Scores</h2>
<img alt="score distribution and precision-recall" src="data:image/png;base64,{images[1]}">
</body></html>
"""


def write(path: Path, document: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
