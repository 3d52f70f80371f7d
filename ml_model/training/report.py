"""Backtest report: a precision-recall plot, the metrics as JSON and a Markdown comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ml_model.training.backtest import HANDBOOK_RESULTS, BacktestResult
from ml_model.training.metrics import precision_recall_curve


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def comparison_table(result: BacktestResult, label: str = "fraudstream XGBoost") -> str:
    """The Markdown table of our metrics against the handbook's published rows."""
    m = result.metrics
    lines = [
        "| model | AUC ROC | average precision | card precision@100 |",
        "| --- | --- | --- | --- |",
    ]
    for name, auc, ap, cp in HANDBOOK_RESULTS:
        lines.append(f"| {name} | {auc:.3f} | {ap:.3f} | {cp:.3f} |")
    lines.append(
        f"| **{label}** | **{_fmt(m['auc_roc'])}** | **{_fmt(m['average_precision'])}** | "
        f"**{_fmt(m['card_precision_at_100'])}** |"
    )
    if result.ceiling:
        lines.append(
            "| best possible with delayed labels (oracle, this split) | n/a | n/a | "
            f"{_fmt(result.ceiling['card_precision_at_100'])} |"
        )
    return "\n".join(lines)


def weekly_table(results: list[BacktestResult]) -> str:
    """One row per test week (newest first) with the delayed-label ceiling, and the mean."""
    lines = [
        "| test week | AUC ROC | average precision | card precision@100 | CP@100 ceiling |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        w = r.windows.to_dict()
        ceiling = r.ceiling.get("card_precision_at_100") if r.ceiling else None
        lines.append(
            f"| {w['test_start'][:10]} | {_fmt(r.metrics['auc_roc'])} | "
            f"{_fmt(r.metrics['average_precision'])} | "
            f"{_fmt(r.metrics['card_precision_at_100'])} | {_fmt(ceiling)} |"
        )
    keys = ("auc_roc", "average_precision", "card_precision_at_100")
    means = [float(np.mean([r.metrics[k] for r in results])) for k in keys]
    ceilings = [r.ceiling["card_precision_at_100"] for r in results if r.ceiling]
    lines.append(
        f"| **mean of {len(results)} weeks** | **{means[0]:.3f}** | **{means[1]:.3f}** | "
        f"**{means[2]:.3f}** | {_fmt(float(np.mean(ceilings)) if ceilings else None)} |"
    )
    return "\n".join(lines)


def plot_precision_recall(result: BacktestResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = result.scores["is_fraud"].to_numpy(dtype=bool)
    scores = result.scores["score"].to_numpy()
    precision, recall, _ = precision_recall_curve(labels, scores)
    figure, axis = plt.subplots(figsize=(6, 4.5), dpi=110)
    axis.step(np.r_[0.0, recall], np.r_[1.0, precision], where="post", label="fraudstream")
    axis.axhline(labels.mean(), color="grey", linestyle=":", label="fraud rate (random model)")
    axis.set_xlabel("recall")
    axis.set_ylabel("precision")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    ap = result.metrics["average_precision"]
    axis.set_title(f"Precision-recall on the test window (AP {ap:.3f})")
    axis.legend(loc="lower left")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def write_report(results: list[BacktestResult], folder: str | Path, *, data_source: str) -> Path:
    """Write ``report.md``, ``metrics.json`` and ``precision_recall.png`` into ``folder``; the
    first result is the requested split, any others the earlier weeks."""
    result = results[0]
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    plot_precision_recall(result, out / "precision_recall.png")
    summary = result.summary()
    if len(results) > 1:
        summary["weeks"] = [
            r.summary() | {"card_precision_at_100_per_day": r.per_day_card_precision}
            for r in results
        ]
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    weekly = (
        "\n\nThe same protocol on earlier test weeks (training start fixed, training end and "
        f"test window shifted back a week at a time):\n\n{weekly_table(results)}"
        if len(results) > 1
        else ""
    )
    w = result.windows.to_dict()
    per_day = ", ".join(f"{v:.2f}" for v in result.per_day_card_precision)
    intro = (
        f"Data: `{data_source}`. Train {w['train_start'][:10]} to "
        f"{w['train_end_exclusive'][:10]} (exclusive), test {w['test_start'][:10]} to "
        f"{w['test_end_exclusive'][:10]} (exclusive), label delay {result.delay_days} days. "
        f"{result.train_rows:,} training transactions (early stopping at round "
        f"{result.fit.best_round}); {int(result.metrics['rows']):,} test transactions with "
        f"{int(result.metrics['frauds']):,} frauds after dropping {result.excluded_rows:,} "
        "transactions of cards already known to be compromised (handbook protocol)."
    )
    text = f"""# Backtest report

{intro}

{comparison_table(result)}

Card precision@100 per test day: {per_day}.{weekly}

Handbook rows are the published results on the handbook's own split (Le Borgne et al.,
*Reproducible Machine Learning for Credit Card Fraud Detection - Practical Handbook*, 2022).

![precision-recall](precision_recall.png)
"""
    path = out / "report.md"
    path.write_text(text)
    return path
