"""The model commands end to end through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from fraudstream.cli import cli
from fraudstream.cli.model import parse_duration_ms
from ml_model.testing import as_handbook_table, synthetic_history
from tests.conftest import free_port

pytestmark = pytest.mark.e2e
SMALL = ["--max-rounds", "40", "--max-depth", "4"]


@pytest.fixture(scope="module")
def handbook_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "small-handbook.parquet"
    pq.write_table(as_handbook_table(synthetic_history(cards=80, days=24.0, seed=11)), path)
    return path


def test_train_writes_the_artifact_and_prints_a_summary(
    handbook_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--data",
            str(handbook_file),
            "--format",
            "handbook",
            "--label-delay",
            "1d",
            "--out",
            str(out),
            *SMALL,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "validation: AUC ROC" in result.output
    assert "thresholds: review >=" in result.output
    assert "anomaly detector: 100 trees of 256, anomalous from" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feature_config"]["label_delay_ms"] == 86_400_000
    assert (out / "model.tar.gz").is_file()


def test_train_without_data_generates_history(tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--cards",
            "300",
            "--days",
            "8",
            "--warm-up",
            "4",
            "--seed",
            "3",
            "--fraud-rate",
            "0.03",
            "--out",
            str(out),
            *SMALL,
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    # the generator's labels arrive a minute late: merchant windows follow, in minute buckets
    assert manifest["feature_config"]["label_delay_ms"] == 60_000
    assert manifest["feature_config"]["merchant_bucket_ms"] == 60_000
    assert manifest["data"]["source"] == "generator table"
    # 12 days generated; the first 4 only build card history, so the baseline's rows are warm
    assert manifest["data"]["warmup_start"].startswith("2026-01-01")
    assert manifest["data"]["start"] >= "2026-01-05" > manifest["data"]["warmup_start"]
    assert manifest["data"]["end"].startswith("2026-01-12")
    assert manifest["monitoring"]["history_days"] > 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--warm-up", "-1"], "must be 0 or more"),
        (["--warm-up", "3", "--train-start", "2026-01-05"], "without --train-start"),
    ],
)
def test_train_rejects_a_warm_up_it_cannot_honour(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["train", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_train_on_generator_file(tmp_path: Path) -> None:
    from producer.history import generate_history

    path = tmp_path / "history.parquet"
    pq.write_table(generate_history(cards=200, days=10, seed=5, fraud_rate=0.03), path)
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "--data",
            str(path),
            "--format",
            "generator",
            "--label-delay",
            "5m",
            "--merchant-bucket",
            "1h",
            "--out",
            str(tmp_path / "m"),
            *SMALL,
        ],
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "m" / "manifest.json").read_text())["feature_config"]
    assert (config["label_delay_ms"], config["merchant_bucket_ms"]) == (300_000, 3_600_000)


def test_backtest_prints_metrics_and_writes_scores_and_report(
    handbook_file: Path, tmp_path: Path
) -> None:
    output = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--data",
            str(handbook_file),
            "--format",
            "handbook",
            "--train-start",
            "2026-01-05",
            "--train-end",
            "2026-01-18",
            "--test-start",
            "2026-01-21",
            "--test-end",
            "2026-01-27",
            "--delay-days",
            "2",
            "--weeks",
            "2",
            "--output",
            str(output),
            *SMALL,
        ],
    )
    assert result.exit_code == 0, result.output
    for label in ("AUC ROC", "average precision", "card precision@100", "handbook best"):
        assert label in result.output
    scores = pd.read_parquet(output)
    assert {"transaction_id", "score"} <= set(scores.columns)
    assert scores["score"].between(0, 1).all()
    report = tmp_path / "scores-report"
    assert (report / "precision_recall.png").stat().st_size > 1000
    assert "| model | AUC ROC |" in (report / "report.md").read_text()
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["metrics"]["auc_roc"] > 0.5
    assert [w["windows"]["test_start"][:10] for w in metrics["weeks"]] == [
        "2026-01-21",
        "2026-01-14",
    ]
    assert "mean of 2 weeks" in result.output


def test_backtest_rejects_overlapping_windows(handbook_file: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--data",
            str(handbook_file),
            "--train-start",
            "2026-01-05",
            "--train-end",
            "2026-01-20",
            "--test-start",
            "2026-01-10",
            "--test-end",
            "2026-01-12",
            "--output",
            str(tmp_path / "s.parquet"),
        ],
    )
    assert result.exit_code == 1
    assert "windows must satisfy" in result.output


def test_durations() -> None:
    assert parse_duration_ms("60s") == 60_000
    assert parse_duration_ms("7d") == 7 * 86_400_000
    assert parse_duration_ms("1.5h") == 5_400_000


def test_serve_model_process_answers_ping(model_dir: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fraudstream.cli import main; main()",
            "serve-model",
            "--port",
            str(port),
            "--model-dir",
            str(model_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.data
@pytest.mark.slow
def test_backtest_on_handbook_data(handbook_path: Path, tmp_path: Path) -> None:
    """A short early split of the real dataset (the full comparison is in docs/model.md): a
    month of training, so merchant risk (30-day windows seven days back) has some history."""
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            "--data",
            str(handbook_path),
            "--format",
            "handbook",
            "--train-start",
            "2018-04-01",
            "--train-end",
            "2018-05-01",
            "--test-start",
            "2018-05-09",
            "--test-end",
            "2018-05-11",
            "--delay-days",
            "7",
            "--output",
            str(tmp_path / "scores.parquet"),
            "--max-rounds",
            "80",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "scores-report" / "metrics.json").read_text())
    assert metrics["metrics"]["auc_roc"] > 0.75
    assert metrics["excluded_known_compromised_rows"] > 0
