"""Model-monitoring figures to CloudWatch, where the Terraform alarms watch them.

Prometheus alert rules cover a cluster with Prometheus; on AWS the same risks page through
CloudWatch alarms (``infrastructure/terraform/modules/alarms``), which need the figures in
CloudWatch. At each closed monitoring window the processor puts a handful of values into
``FRAUDSTREAM_MODEL_METRICS_NAMESPACE`` with one ``PutMetricData`` call. The ratios the alarms
need (review rate over the budget, recall over the validation recall) are computed here so an
alarm is one metric and one threshold.

Monitoring is best effort: a failed call is logged and counted, never raised, so CloudWatch
being unreachable cannot stop the stream.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fraudstream import aws
from fraudstream.settings import Settings
from processor.model_monitor import WindowReport

log = logging.getLogger(__name__)


def metric_data(report: WindowReport, at: datetime) -> list[dict[str, Any]]:
    """The ``MetricData`` of one window: PSI of the score (``ScorePSI``) and the largest of the
    top features' (``MaxFeaturePSI``), the review and block rates, and when known the review
    rate over the budget, precision, recall, average precision and recall over validation.
    While the feature state is younger than the baseline's history (``report.warm`` false) the
    PSI figures are left out: they measure the cold start, and the drift alarms read missing
    data as not breaching."""
    features = [v for k, v in report.psi.items() if k != "score"] if report.warm else []
    values: dict[str, float | None] = {
        "ScorePSI": report.psi.get("score") if report.warm else None,
        "MaxFeaturePSI": max(features) if features else None,
        "ReviewRate": report.alert_rate.get("review"),
        "BlockRate": report.alert_rate.get("block"),
        "ReviewRateToBudget": (
            report.alert_rate.get("review", 0.0) / report.review_budget
            if report.review_budget
            else None
        ),
        "Precision": report.precision,
        "Recall": report.recall,
        "AveragePrecision": report.average_precision,
        "RecallToValidation": (
            report.recall / report.baseline.recall
            if report.recall is not None and report.baseline.recall
            else None
        ),
    }
    return [
        {"MetricName": name, "Timestamp": at, "Value": float(value), "Unit": "None"}
        for name, value in values.items()
        if value is not None and value == value  # drop unknowns and NaN
    ]


class ModelMetricsPublisher:
    """Puts each closed window's figures into one CloudWatch namespace."""

    def __init__(self, settings: Settings, *, client: Any = None) -> None:
        if not settings.model_metrics_namespace:
            raise ValueError("FRAUDSTREAM_MODEL_METRICS_NAMESPACE is empty: nothing to publish to")
        self.namespace = settings.model_metrics_namespace
        self._client = client or aws.client("cloudwatch", settings, max_attempts=2)
        self.failures = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelMetricsPublisher | None:
        """A publisher when the namespace setting is set, else None."""
        return cls(settings) if settings.model_metrics_namespace else None

    def publish(self, report: WindowReport, at: datetime) -> bool:
        """Put the window's figures; False (logged, counted) when CloudWatch refused them."""
        data = metric_data(report, at)
        if not data:
            return True
        try:
            self._client.put_metric_data(Namespace=self.namespace, MetricData=data)
        except (ClientError, BotoCoreError) as error:
            self.failures += 1
            log.warning("model metrics not published to CloudWatch: %s", error)
            return False
        return True
