"""The catalogue of metrics the platform exports (Prometheus names, types, labels).

One definition read by the processor's exporter and checked against the Grafana dashboard and
alert rules under ``infrastructure/``, so a renamed metric cannot silently blank a panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["counter", "gauge", "histogram", "summary"]
    help: str
    labels: tuple[str, ...] = ()


PROCESSOR_METRICS: tuple[Metric, ...] = (
    Metric("fraudstream_rows_total", "counter", "Valid transactions processed."),
    Metric("fraudstream_decisions_total", "counter", "Decisions by outcome.", ("decision",)),
    Metric(
        "fraudstream_decision_reasons_total",
        "counter",
        "Reason codes given with review and block decisions (a decision may give several), "
        "e.g. anomalous: reviews the anomaly signal alone sent.",
        ("reason",),
    ),
    Metric(
        "fraudstream_quarantined_total", "counter", "Rejected input records by reason.", ("reason",)
    ),
    Metric(
        "fraudstream_late_events_total", "counter", "Events dropped as later than the watermark."
    ),
    Metric("fraudstream_duplicates_total", "counter", "Duplicate deliveries removed."),
    Metric(
        "fraudstream_lake_files_total",
        "counter",
        "Data files committed to the lake (compaction's backlog: `fraudstream lake compact`).",
    ),
    Metric("fraudstream_lake_bytes_total", "counter", "Bytes of data files committed to the lake."),
    Metric("fraudstream_batch_seconds", "histogram", "Wall time of one micro-batch."),
    Metric(
        "fraudstream_end_to_end_latency_seconds",
        "histogram",
        "Kinesis arrival to sink commit, per transaction.",
    ),
    Metric(
        "fraudstream_scored_total", "counter", "Scores by path (endpoint or fallback).", ("path",)
    ),
    Metric(
        "fraudstream_kinesis_millis_behind_latest",
        "gauge",
        "How far the source is behind the stream tip, per shard.",
        ("shard",),
    ),
    Metric("fraudstream_kinesis_records_total", "counter", "Records read from Kinesis."),
    Metric(
        "fraudstream_backlog_records",
        "gauge",
        "Estimated records waiting on the streams (time behind times the stream's density).",
    ),
    Metric(
        "fraudstream_catch_up_eta_seconds",
        "gauge",
        "Estimated seconds until the processor has caught up (-1: not gaining, or unknown).",
    ),
    Metric(
        "fraudstream_last_batch_id",
        "gauge",
        "Id of the last committed micro-batch (-1 before the first).",
    ),
    Metric(
        "fraudstream_model_psi",
        "gauge",
        "Population stability index of the last monitoring window against the training "
        "baseline, for the score and the model's top features (column).",
        ("column",),
    ),
    Metric(
        "fraudstream_model_alert_rate",
        "gauge",
        "Share of the last monitoring window's transactions reviewed or blocked (decision).",
        ("decision",),
    ),
    Metric(
        "fraudstream_model_review_budget",
        "gauge",
        "The rules file's review budget, as a share of transactions (-1: no budget).",
    ),
    Metric(
        "fraudstream_model_precision",
        "gauge",
        "Share of fraud among the recent labelled review/block decisions (-1: none yet).",
    ),
    Metric(
        "fraudstream_model_recall",
        "gauge",
        "Share of the recent labelled frauds the decisions reviewed or blocked (-1: none yet).",
    ),
    Metric(
        "fraudstream_model_average_precision",
        "gauge",
        "Average precision of the score over the recent labelled transactions (-1: none yet).",
    ),
    Metric(
        "fraudstream_model_labelled_decisions",
        "gauge",
        "Recent decisions whose labels have arrived (what precision and recall are over).",
    ),
    Metric(
        "fraudstream_model_unmatched_labels_total",
        "counter",
        "Labels whose transaction was no longer in the monitor's buffer (not measured).",
    ),
    Metric(
        "fraudstream_model_state_days",
        "gauge",
        "Days of event time the processor's feature state covers (-1 until the first window).",
    ),
    Metric(
        "fraudstream_model_warm",
        "gauge",
        "1 when the feature state covers the history the training baseline had, so PSI means "
        "drift; 0 while it warms up (the drift alerts hold).",
    ),
    Metric(
        "fraudstream_model_baseline",
        "gauge",
        "The model's validation figures the live ones compare with (measure: alert_rate, "
        "precision, recall, history_days: the training history behind the baseline's rows; "
        "-1 when the manifest has none).",
        ("measure",),
    ),
)


def by_name() -> dict[str, Metric]:
    return {m.name: m for m in PROCESSOR_METRICS}
