"""The suite's results: one dict per scenario for ``benchmarks/results/faults.json`` and a
table for people (plain text on the terminal, Markdown for docs/reliability.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from benchmarks.faults.scenarios import Outcome

COLUMNS = (
    ("scenario", "scenario"),
    ("events_in", "events in"),
    ("rows_out", "rows out"),
    ("duplicates", "duplicates"),
    ("lost", "lost"),
    ("quarantined", "quarantined"),
    ("recovery_s", "recovery s"),
    ("result", "result"),
)


def row(outcome: Outcome) -> dict[str, Any]:
    """The table's figures for one scenario (losses count transactions missing from the lake,
    alerts missing from the table and malformed records missing from quarantine)."""
    d, q = outcome.delivery, outcome.quarantine
    return {
        "scenario": outcome.scenario,
        "events_in": outcome.events_in,
        "rows_out": d.rows_out,
        "duplicates": d.duplicates + q.duplicates,
        "lost": d.losses + q.lost,
        "quarantined": q.quarantined,
        "recovery_s": outcome.recovery_s,
        "result": "pass" if outcome.ok else "FAIL",
    }


def to_json(outcome: Outcome) -> dict[str, Any]:
    """Everything measured in one scenario."""
    return {
        **row(outcome),
        "ok": outcome.ok,
        "checks": outcome.checks,
        "delivery": asdict(outcome.delivery),
        "quarantine": asdict(outcome.quarantine),
        "details": outcome.details,
    }


def _cells(rows: Sequence[dict[str, Any]]) -> list[list[str]]:
    def text(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:,}" if isinstance(value, int) else str(value)

    return [[text(r[key]) for key, _ in COLUMNS] for r in rows]


def text_table(rows: Sequence[dict[str, Any]]) -> str:
    """Aligned columns for the terminal."""
    header = [title for _, title in COLUMNS]
    body = _cells(rows)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [header, ["-" * w for w in widths], *body]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table (docs/reliability.md)."""
    header = [title for _, title in COLUMNS]
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = [header, align, *_cells(rows)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)
