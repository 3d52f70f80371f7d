"""``fraudstream rules test`` on a real lake written by the batch sink (on the emulator), and on
generator history: the tool's policy reproduces the stream's decisions exactly."""

from __future__ import annotations

import io
import itertools
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from fraudstream import aws, readback
from fraudstream.cli import cli
from fraudstream.settings import Settings
from ml_model.artifact import load_model
from ml_model.scoring.client import ScoringClient
from processor.batch_sink import BatchSink, SinkParts
from processor.decisions import RulesFile
from processor.sink_state import SinkStore
from processor.sinks.alerts import AlertWriter
from processor.sinks.lake import LakeWriter
from producer.generator import TransactionGenerator
from producer.history import generate_history
from producer.simulated import simulated_config
from tests.processor.batch_rows import RowFactory

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def env(settings: Settings, model_dir: Path) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": settings.endpoint_url or "",
        "FRAUDSTREAM_BUCKET": settings.bucket,
        "FRAUDSTREAM_MODEL_DIR": str(model_dir),
    }


def invoke(settings: Settings, model_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["rules", "test", *args], env=env(settings, model_dir))


def lake_counts(settings: Settings, model_dir: Path, sql: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        cli, ["lake", "query", sql, "--format", "json"], env=env(settings, model_dir)
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


@pytest.fixture(scope="module")
def traffic() -> list[Any]:
    config = simulated_config(
        events=3_000, cards=300, seed=11, fraud_rate=0.05, token_key=b"k", now=NOW
    )
    return list(itertools.islice(TransactionGenerator(config), 3_000))


@pytest.fixture(scope="module")
def lake(
    local_stack: Settings,
    generator_model_dir: Path,
    traffic: list[Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Three micro-batches through the real sink with the shipped rules: each batch brings the
    labels of the one before (a few twice). One lake for the module's tests."""
    from fraudstream.stack.resources import ensure_bucket, ensure_table

    fresh_sinks = local_stack.model_copy(
        update={
            "bucket": f"lake-rules-{uuid.uuid4().hex[:8]}",
            "alerts_table": f"alerts-rules-{uuid.uuid4().hex[:8]}",
            "state_dir": tmp_path_factory.mktemp("rules-sink"),
        }
    )
    ensure_bucket(aws.client("s3", fresh_sinks), fresh_sinks.bucket, fresh_sinks.region)
    ensure_table(aws.client("dynamodb", fresh_sinks), fresh_sinks.alerts_table, 30.0)
    model = load_model(generator_model_dir)
    runtime = aws.client("sagemaker-runtime", fresh_sinks, max_attempts=1)
    parts = SinkParts(
        lake=LakeWriter(fresh_sinks),
        alerts=AlertWriter(fresh_sinks),
        store=SinkStore(str(fresh_sinks.state_dir / "sink-state"), fresh_sinks),
        scorer=ScoringClient(runtime, "absent", fallback=model, retries=0),
        rules=RulesFile(None),
    )
    sink = BatchSink(fresh_sinks, model, parts, clock=lambda: NOW)
    rows = RowFactory()
    chunks = [traffic[:1_000], traffic[1_000:2_000], traffic[2_000:]]
    for batch_id, chunk in enumerate(chunks):
        previous = chunks[batch_id - 1] + chunks[batch_id - 1][:20] if batch_id else []
        sink.process(
            rows.batch(chunk, labels=previous, label_time=chunk[0].event.event_time), batch_id
        )
    return fresh_sinks


def test_the_tool_reproduces_the_streams_decisions_and_counts_the_labels(
    lake: Settings, generator_model_dir: Path, traffic: list[Any]
) -> None:
    result = invoke(lake, generator_model_dir, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    decided = {
        row["decision"]: row["n"]
        for row in lake_counts(
            lake, generator_model_dir, "SELECT decision, count(*) AS n FROM transactions GROUP BY 1"
        )
    }
    policy = report["policy"]
    assert report["transactions"] == 3_000
    assert policy["reviews"]["rows"] == decided.get("review", 0)
    assert policy["blocks"]["rows"] == decided.get("block", 0)
    assert report["labelled"] == 2_000
    assert report["frauds"] == sum(g.is_fraud for g in traffic[:2_000])
    assert report["thresholds"]["from"].startswith("model ")
    assert report["review_budget"] == 0.015
    assert [rule["name"] for rule in report["rules"]][:2] == [
        "large_first_purchase",
        "velocity_burst",
    ]
    repeats = lake_counts(
        lake,
        generator_model_dir,
        "SELECT count(*) AS n FROM transactions WHERE cardinality(reasons) <> "
        "cardinality(array_distinct(reasons))",
    )
    assert repeats == [{"n": 0}]  # every reason once


def test_text_output_a_window_and_a_rules_file(
    lake: Settings, generator_model_dir: Path, traffic: list[Any], tmp_path: Path
) -> None:
    text = invoke(lake, generator_model_dir)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[1].startswith(f"lake s3://{lake.bucket}") and "3,000 transactions" in lines[1]
    assert any(line.startswith("policy ") for line in lines)
    assert any(line.startswith("impossible_travel ") and " off " in line for line in lines)

    middle = traffic[1_500].event.event_time.isoformat()
    window = json.loads(invoke(lake, generator_model_dir, "--since", middle, "--json").stdout)
    assert 0 < window["transactions"] < 3_000

    strict = tmp_path / "strict.yaml"
    strict.write_text(
        "version: 1\nscore: {from_model: false, review: 0.999, block: 1.0}\nrules: []\n"
    )
    none = json.loads(invoke(lake, generator_model_dir, str(strict), "--json").stdout)
    assert none["model_alone"]["flagged"]["rows"] <= 3 and none["rules"] == []
    # the policy adds the anomaly signal's reviews: with no budget, every approved row at or
    # above the detector's threshold (0.3 % of its training rows)
    assert none["policy"]["flagged"]["rows"] <= 3 + 0.01 * 3_000
    bad = invoke(lake, generator_model_dir, "--until", "yesterday")
    assert bad.exit_code == 2 and "not a date or time" in bad.output


def test_history_instead_of_the_lake(
    local_stack: Settings, generator_model_dir: Path, tmp_path: Path
) -> None:
    table = generate_history(cards=200, days=3, seed=4, fraud_rate=0.05)
    path = tmp_path / "history.parquet"
    pq.write_table(table, path)
    result = invoke(local_stack, generator_model_dir, "--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["transactions"] == report["labelled"] == table.num_rows
    assert report["source"].startswith("generator history")
    missing = invoke(local_stack, tmp_path / "no-model", "--data", str(path))
    assert missing.exit_code == 1 and "no model at" in missing.output


def test_only_what_the_tables_committed_is_read(lake: Settings, generator_model_dir: Path) -> None:
    """A data file no commit names (an attempt that died before its commit) is not part of the
    table: the tool reads the Delta tables at their latest version, as Athena does."""
    s3 = aws.client("s3", lake)
    committed = readback.lake_keys(lake, "transactions")[0]
    rows = pq.read_table(
        io.BytesIO(s3.get_object(Bucket=lake.bucket, Key=committed)["Body"].read())
    )
    ids = pa.array(["orphan-" + i for i in rows.column("transaction_id").to_pylist()])
    orphan = committed.rsplit("/", 1)[0] + "/part-orphan-attempt.parquet"
    buffer = io.BytesIO()
    pq.write_table(rows.set_column(0, "transaction_id", ids), buffer)
    s3.put_object(Bucket=lake.bucket, Key=orphan, Body=buffer.getvalue())
    try:
        report = json.loads(invoke(lake, generator_model_dir, "--json").stdout)
        assert report["transactions"] == 3_000
    finally:
        s3.delete_object(Bucket=lake.bucket, Key=orphan)


def test_help_documents_the_tool() -> None:
    result = CliRunner().invoke(cli, ["rules", "test", "--help"])
    assert result.exit_code == 0
    for words in ("--since", "--until", "--json", "labels", "precision", "Athena"):
        assert words in result.output


def test_the_dashboard_measures_the_same_policy(lake: Settings, generator_model_dir: Path) -> None:
    from fraudstream.live.policy import lake_measure

    settings = lake.model_copy(update={"model_dir": generator_model_dir})
    measured = lake_measure(settings, lookback_hours=24 * 365 * 20)()
    report = json.loads(invoke(lake, generator_model_dir, "--json").stdout)
    assert measured["policy"] == report["policy"] and measured["rules"] == report["rules"]
