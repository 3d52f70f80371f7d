"""The Grafana dashboard, alert rules and scrape config use only catalogued metrics and ports."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from fraudstream.metric_names import PROCESSOR_METRICS, by_name
from tests.infrastructure.conftest import KUBERNETES, MONITORING

pytestmark = pytest.mark.infra

METRIC = re.compile(r"\bfraudstream_[a-z0-9_]+")
SELECTOR = re.compile(r"(fraudstream_[a-z0-9_]+)\{([^}]*)\}")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
METRICS_PORT = 9108


def base_metric(series: str) -> tuple[str, str]:
    """(catalogued metric name, suffix) for a series name; AssertionError if unknown."""
    catalogue = by_name()
    if series in catalogue:
        return series, ""
    for name, metric in catalogue.items():
        for suffix in SUFFIXES.get(metric.kind, ()):
            if series == name + suffix:
                return name, suffix
    raise AssertionError(f"{series} is not in fraudstream/metric_names.py")


def check_expression(expr: str) -> set[str]:
    used = set()
    for series in METRIC.findall(expr):
        name, _ = base_metric(series)
        used.add(name)
    for series, matchers in SELECTOR.findall(expr):
        name, suffix = base_metric(series)
        allowed = set(by_name()[name].labels) | ({"le"} if suffix == "_bucket" else set())
        for label in re.findall(r"(\w+)\s*[!=]~?", matchers):
            assert label in allowed, f"{series}: label {label} is not exported"
    return used


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (MONITORING / "grafana" / "fraudstream-processor.json").read_text()
    )
    return data


def test_dashboard_uses_only_catalogued_metrics() -> None:
    used: set[str] = set()
    for panel in dashboard()["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= check_expression(target["expr"])
    # throughput, latency percentiles, fraud rate and iterator age are all on it
    for needed in (
        "fraudstream_rows_total",
        "fraudstream_end_to_end_latency_seconds",
        "fraudstream_decisions_total",
        "fraudstream_kinesis_millis_behind_latest",
    ):
        assert needed in used
    titles = " ".join(p["title"].lower() for p in dashboard()["panels"])
    for word in ("throughput", "latency", "fraud rate", "iterator age"):
        assert word in titles


def test_a_renamed_metric_would_be_caught() -> None:
    with pytest.raises(AssertionError, match=r"not in fraudstream/metric_names\.py"):
        check_expression("rate(fraudstream_rows_processed_total[5m])")
    with pytest.raises(AssertionError, match="label"):
        check_expression('fraudstream_decisions_total{outcome="block"}')


def test_alert_rules_use_only_catalogued_metrics() -> None:
    rules = yaml.safe_load((MONITORING / "alert-rules.yaml").read_text())
    exprs = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    assert exprs
    for expr in exprs:
        assert check_expression(expr), expr


def test_metrics_port_is_the_same_everywhere() -> None:
    scrape = yaml.safe_load((MONITORING / "prometheus-scrape.yaml").read_text())
    relabels = scrape["scrape_configs"][0]["relabel_configs"]
    assert {
        "source_labels": ["__meta_kubernetes_pod_container_port_number"],
        "regex": str(METRICS_PORT),
        "action": "keep",
    } in relabels
    driver = yaml.safe_load((KUBERNETES / "spark" / "driver-pod-template.yaml").read_text())
    ports = driver["spec"]["containers"][0]["ports"]
    assert ports == [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}]
    assert driver["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    local = yaml.safe_load((MONITORING / "prometheus-local.yaml").read_text())
    assert local["scrape_configs"][0]["static_configs"][0]["targets"] == [
        f"processor:{METRICS_PORT}"
    ]


def test_every_catalogued_metric_is_shown_somewhere() -> None:
    shown: set[str] = set()
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            shown |= check_expression(target["expr"])
    assert shown == {m.name for m in PROCESSOR_METRICS}
