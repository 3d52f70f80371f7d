"""The batch sink against the real emulator: every sink written once, replays identical, a
crash after any step recovered exactly, and the lake's features are the training builder's."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from click.testing import CliRunner

from fraudstream import aws
from fraudstream.cli import cli
from fraudstream.lake_history import read_lake_history
from fraudstream.readback import lake_table
from fraudstream.settings import Settings
from ml_model.artifact import ModelBundle, load_model
from ml_model.features import FEATURE_NAMES, build
from ml_model.scoring.client import ScoringClient
from processor.batch_sink import BatchSink, SinkParts, features_map
from processor.crash import STEPS, CrashPoint
from processor.decisions import RulesFile
from processor.shadow import ShadowScorer
from processor.sink_state import SinkStore, encode
from processor.sinks.alerts import AlertWriter
from processor.sinks.lake import LakeWriter
from producer.generator import GeneratedTransaction, TransactionGenerator
from producer.simulated import simulated_config
from tests.conftest import new_sinks
from tests.e2e.runs import LAKE_TABLES, canonical_rows
from tests.processor.batch_rows import RowFactory

pytestmark = pytest.mark.integration
RULES_YAML = Path(__file__).resolve().parents[2] / "processor" / "decisions" / "rules.yaml"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_sink(settings: Settings, model: ModelBundle, **store: int) -> BatchSink:
    runtime = aws.client("sagemaker-runtime", settings, max_attempts=1)
    parts = SinkParts(
        lake=LakeWriter(settings),
        alerts=AlertWriter(settings),
        store=SinkStore(str(settings.state_dir / "sink-state"), settings, **store),
        # The emulator's SageMaker answers placeholders, so every batch exercises the fallback.
        scorer=ScoringClient(runtime, "absent", fallback=model, retries=0),
        rules=RulesFile(None),
    )
    return BatchSink(settings, model, parts, clock=lambda: NOW)


def lake(settings: Settings, table: str) -> pa.Table:
    return lake_table(settings, table.rstrip("/"))


def object_keys(settings: Settings) -> list[str]:
    listing = aws.client("s3", settings).list_objects_v2(Bucket=settings.bucket)
    return sorted(o["Key"] for o in listing["Contents"])


def alerts(settings: Settings) -> list[dict[str, object]]:
    items = aws.client("dynamodb", settings).scan(TableName=settings.alerts_table)["Items"]
    return sorted(items, key=lambda i: str(i["alert_key"]))


def lake_matrix(table: pa.Table) -> np.ndarray:
    """The lake's ``features`` column as a matrix, rows by transaction id."""
    ordered = table.sort_by("transaction_id")
    maps = ordered["features"].combine_chunks()
    values = maps.items.to_numpy(zero_copy_only=False)
    return values.reshape(ordered.num_rows, len(FEATURE_NAMES))


def test_features_map_holds_each_rows_features_under_their_names() -> None:
    matrix = np.arange(3 * len(FEATURE_NAMES), dtype=np.float32).reshape(3, -1)
    rows = features_map(matrix).to_pylist()
    assert [dict(row) for row in rows] == [
        dict(zip(FEATURE_NAMES, values.tolist(), strict=True)) for values in matrix
    ]
    assert features_map(matrix[:0]).to_pylist() == []


@pytest.fixture(scope="module")
def traffic() -> list[GeneratedTransaction]:
    config = simulated_config(
        events=3_000, cards=300, seed=5, fraud_rate=0.05, token_key=b"k", now=NOW
    )
    return list(itertools.islice(TransactionGenerator(config), 3_000))


def test_batches_land_once_everywhere_and_replay_identically(
    fresh_sinks: Settings, generator_model_dir: Path, traffic: list[GeneratedTransaction]
) -> None:
    model = load_model(generator_model_dir)
    rows = RowFactory()
    first, second = traffic[:1_500], traffic[1_500:]
    batch0 = rows.batch(first, quarantine=[("{bad", "bad_json"), ('{"amount":-1}', "bad_amount")])
    labelled = first[:400] + first[:50]  # 50 labels delivered twice
    batch1 = rows.batch(second, labels=labelled, label_time=second[0].event.event_time)

    monitored = fresh_sinks.model_copy(update={"monitor_window_rows": 1_000})
    challenger = replace(model, manifest={**model.manifest, "version": "challenger"})
    sink = make_sink(monitored, model)
    sink.parts.shadow = ShadowScorer(challenger, model)
    summary0 = sink.process(batch0, 0)
    summary1 = sink.process(batch1, 1)
    assert summary0.rows == 1_500 and summary1.rows == 1_500
    assert summary0.quarantined == {"bad_json": 1, "bad_amount": 1}

    transactions = lake(fresh_sinks, "transactions/")
    assert transactions.num_rows == 3_000
    assert set(transactions["transaction_id"].to_pylist()) == {
        g.event.transaction_id for g in traffic
    }
    assert set(transactions["scored_by"].to_pylist()) == {"fallback"}
    assert lake(fresh_sinks, "labels/").num_rows == 400  # each label once
    assert lake(fresh_sinks, "quarantine/").num_rows == 2
    assert lake(fresh_sinks, "aggregates/").num_rows > 0  # days of event time: windows closed
    flagged = pc.sum(pc.is_in(transactions["decision"], pa.array(["review", "block"]))).as_py()
    before = alerts(fresh_sinks)
    assert len(before) == flagged > 0
    reasons = transactions.filter(pc.is_in(transactions["decision"], pa.array(["review", "block"])))
    for row in reasons["reasons"].to_pylist():
        assert row and len(row) == len(set(row))  # every alert says why, each reason once

    # The lake's features are what the training builder computes from the same events: the
    # first batch's transactions without labels, the second's with the labels (delivered with
    # it, at a label time before all of its transactions).
    frame = pd.DataFrame(
        {
            "transaction_id": [g.event.transaction_id for g in traffic],
            "card_id": [g.event.card_id for g in traffic],
            "merchant_id": [g.event.merchant_id for g in traffic],
            "amount": [g.event.amount for g in traffic],
            "event_ms": [int(g.event.event_time.timestamp() * 1000) for g in traffic],
            "merchant_category": [g.event.merchant_category for g in traffic],
            "channel": [g.event.channel for g in traffic],
            "lat": [g.event.lat for g in traffic],
            "lon": [g.event.lon for g in traffic],
        }
    ).sort_values("transaction_id", ignore_index=True)
    label_ms = int(second[0].event.event_time.timestamp() * 1000)
    labels = pd.DataFrame(
        {
            "merchant_id": [g.event.merchant_id for g in first[:400]],
            "event_ms": [int(g.event.event_time.timestamp() * 1000) for g in first[:400]],
            "is_fraud": [g.is_fraud for g in first[:400]],
            "label_ms": label_ms,
        }
    )
    built = build(frame, labels, model.feature_config)
    assert np.array_equal(lake_matrix(transactions), built.astype(np.float64))

    # Each batch closed a monitoring window; batch 1's labels joined batch 0's decisions.
    monitoring = lake(fresh_sinks, "model_monitoring/").to_pandas()
    assert set(monitoring["batch_id"]) == {0, 1}
    by = monitoring.set_index(["batch_id", "measure", "subject"])["value"]
    assert 0 <= by[(0, "psi", "score")] < 10
    assert by[(0, "labelled", "")] == 0 and by[(1, "labelled", "")] == 400
    frauds = sum(g.is_fraud for g in first[:400])
    assert by[(1, "frauds", "")] == frauds > 0
    decided = transactions.to_pandas().set_index("transaction_id")["decision"]
    caught = sum(g.is_fraud and decided[g.event.transaction_id] != "approve" for g in first[:400])
    assert by[(1, "recall", "")] == pytest.approx(caught / frauds)

    # The shadow challenger scored every transaction; `model compare` reads it with the labels.
    shadow = lake(fresh_sinks, "shadow_scores/")
    assert shadow.num_rows == 3_000 and set(shadow["challenger_version"].to_pylist()) == {
        "challenger"
    }
    compared = CliRunner().invoke(
        cli,
        ["model", "compare", "--json", "--challenger-dir", str(generator_model_dir)],
        env={
            "AWS_ENDPOINT_URL": fresh_sinks.endpoint_url or "",
            "FRAUDSTREAM_BUCKET": fresh_sinks.bucket,
            "FRAUDSTREAM_MODEL_DIR": str(generator_model_dir),
        },
    )
    assert compared.exit_code == 0, compared.output
    figures = json.loads(compared.stdout)
    assert (figures["rows"], figures["frauds"]) == (400, frauds)
    assert figures["challenger"] == figures["champion"]  # the same booster under another name
    assert figures["champion_policy"]["recall"] == pytest.approx(caught / frauds)
    assert figures["challenger_better"] is False

    # `train --from-lake` reads the fully labelled stretch: what precedes the first unlabelled.
    labelled_ids = {g.event.transaction_id for g in first[:400]}
    cut = min(g.event.event_time for g in traffic if g.event.transaction_id not in labelled_ids)
    expected = {g.event.transaction_id for g in first[:400] if g.event.event_time < cut}
    history = read_lake_history(fresh_sinks, None, None)
    assert expected and set(history.transactions["transaction_id"]) == expected
    assert history.transactions["is_fraud"].sum() == sum(
        g.is_fraud for g in first[:400] if g.event.transaction_id in expected
    )

    # A restart re-runs batch 1 from batch 0's log: same objects, scores and alerts.
    keys_before = object_keys(fresh_sinks)
    data_files = [k for k in keys_before if k.endswith(".parquet") and "_delta_log" not in k]
    assert summary0.lake_files + summary1.lake_files == len(data_files)
    assert summary1.lake_bytes > 0
    replay = make_sink(fresh_sinks, model)
    replayed = replay.process(batch1, 1)
    assert replayed.rows == 1_500
    assert (replayed.lake_files, replayed.lake_bytes) == (0, 0)  # the lake held it: nothing added
    assert object_keys(fresh_sinks) == keys_before
    again = lake(fresh_sinks, "transactions/")
    assert again.num_rows == 3_000
    assert again.sort_by("transaction_id")["score"].equals(
        transactions.sort_by("transaction_id")["score"]
    )
    assert alerts(fresh_sinks) == before


def test_a_restart_from_a_snapshot_and_logs_computes_the_same(
    fresh_sinks: Settings, generator_model_dir: Path, traffic: list[GeneratedTransaction]
) -> None:
    model = load_model(generator_model_dir)
    rows = RowFactory()
    batches = [rows.batch(traffic[i : i + 500]) for i in range(0, 3_000, 500)]
    sink = make_sink(fresh_sinks, model, snapshot_log_bytes=1)  # a snapshot after every batch
    for batch_id, batch in enumerate(batches):
        sink.process(batch, batch_id)
    names = sink.parts.store.folder.names()
    assert any(n.startswith("snap-") for n in names) and any(n.startswith("log-") for n in names)
    written = lake(fresh_sinks, "transactions/").sort_by("transaction_id")

    for store in ({"snapshot_log_bytes": 1}, {"snapshot_log_bytes": 2**40}):
        restarted = make_sink(fresh_sinks, model, **store)
        restarted.process(batches[-1], len(batches) - 1)  # from the snapshot before it
        again = lake(fresh_sinks, "transactions/").sort_by("transaction_id")
        assert again["features"].equals(written["features"])
        assert again["score"].equals(written["score"])
        assert again["anomaly_score"].equals(written["anomaly_score"])
        # the review budget's counts came back too: the same rows reviewed
        assert again["decision"].equals(written["decision"])


class Killed(BaseException):
    """Stands in for the crash point's SIGKILL, so the test process survives it (a
    ``BaseException``: nothing in the sink may catch it, as nothing can catch a SIGKILL)."""


def die() -> None:
    raise Killed


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal schemas and values, NaN included (``Table.equals`` holds NaN unequal to itself)."""
    return bool(encode(a.combine_chunks()) == encode(b.combine_chunks()))


def everything_written(settings: Settings, sink: BatchSink, next_batch: int) -> dict[str, Any]:
    """Every lake table's rows, every alert item and the sink state before ``next_batch``."""
    lake = {name: canonical_rows(lake_table(settings, name)) for name in LAKE_TABLES}
    meta, tables = sink.parts.store.load_before(next_batch, sink.config, sink.spec).to_tables()
    return {"lake": lake, "alerts": alerts(settings), "state": (meta, tables)}


def tables_holding(settings: Settings, batch_id: int) -> set[str]:
    """The lake tables whose Delta log holds rows of ``batch_id``."""
    return {
        name
        for name in LAKE_TABLES
        if batch_id in lake_table(settings, name)["batch_id"].to_pylist()
    }


@pytest.fixture(scope="module")
def crash_batches(traffic: list[GeneratedTransaction]) -> list[pa.Table]:
    """Three batches with labels and quarantined records: what a crash interrupts (batch 1
    writes three lake tables, so a crash can fall between their commits)."""
    rows = RowFactory()
    part = traffic[:900]
    label_time = part[300].event.event_time
    return [
        rows.batch(part[:300], quarantine=[("{bad", "bad_json")]),
        rows.batch(
            part[300:600],
            labels=part[:200],
            label_time=label_time,
            quarantine=[('{"amount":-1}', "bad_amount")],
        ),
        rows.batch(part[600:], labels=part[200:300], label_time=part[600].event.event_time),
    ]


@pytest.fixture(scope="module")
def uninterrupted(
    local_stack: Settings,
    generator_model_dir: Path,
    crash_batches: list[pa.Table],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    settings = new_sinks(local_stack, tmp_path_factory.mktemp("uninterrupted"))
    sink = make_sink(settings, load_model(generator_model_dir), max_logs=2)
    for batch_id, batch in enumerate(crash_batches):
        sink.process(batch, batch_id)
    sink.parts.lake.close()
    return everything_written(settings, sink, len(crash_batches)) | {
        "batch 1 in": tables_holding(settings, 1)
    }


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_after_any_step_then_a_restart_writes_what_no_crash_does(
    step: str,
    fresh_sinks: Settings,
    generator_model_dir: Path,
    crash_batches: list[pa.Table],
    uninterrupted: dict[str, Any],
) -> None:
    model = load_model(generator_model_dir)
    sink = make_sink(fresh_sinks, model, max_logs=2)  # batch 1's save writes a snapshot
    sink.crash = sink.parts.lake.crash = CrashPoint(step, 1, kill=die)
    sink.process(crash_batches[0], 0)
    with pytest.raises(Killed):
        sink.process(crash_batches[1], 1)
    sink.parts.lake.close()  # the other tables' threads stop at their next crash check

    # What of batch 1 the crash left: before the lake nothing; after its files, files that no
    # Delta commit names (the replay overwrites them); after one commit, at least that table;
    # after the lake step, every table.
    holding = tables_holding(fresh_sinks, 1)
    files = [k for k in object_keys(fresh_sinks) if "/part-000000000001-" in k]
    at = STEPS.index(step)
    assert bool(files) == (at >= STEPS.index("lake-files")), step
    if at < STEPS.index("lake-commit"):
        assert holding == set(), step
    elif step == "lake-commit":
        assert holding and holding <= uninterrupted["batch 1 in"]
    else:
        assert holding == uninterrupted["batch 1 in"], step
    log_saved = f"log-{1:012d}.arrow" in sink.parts.store.folder.names()
    assert log_saved == (at >= STEPS.index("state")), step

    restarted = make_sink(fresh_sinks, model, max_logs=2)  # Spark replays batch 1
    for batch_id in (1, 2):
        restarted.process(crash_batches[batch_id], batch_id)
    restarted.parts.lake.close()
    after = everything_written(fresh_sinks, restarted, 3)
    for name in LAKE_TABLES:
        assert after["lake"][name] == uninterrupted["lake"][name], name
    assert after["alerts"] == uninterrupted["alerts"]
    meta, tables = after["state"]
    assert meta == uninterrupted["state"][0]
    assert sorted(tables) == sorted(uninterrupted["state"][1])
    for name, table in uninterrupted["state"][1].items():
        assert same(tables[name], table), name


def test_approved_unusual_rows_go_to_review_as_anomalous_within_their_budget(
    fresh_sinks: Settings,
    generator_model_dir: Path,
    traffic: list[GeneratedTransaction],
    tmp_path: Path,
) -> None:
    model = load_model(generator_model_dir)
    assert model.anomaly is not None  # training shipped the detector
    batch = RowFactory().batch(traffic[:1_500])
    # ~40 rows an event hour: a budget of 20 % of each hour, half of it for the anomalous
    rules = tmp_path / "rules.yaml"
    config = yaml.safe_load(RULES_YAML.read_text())
    config["budget"] |= {"review_share": 0.2, "hours": 1, "anomaly_part": 0.5}
    rules.write_text(yaml.safe_dump(config))

    off = new_sinks(fresh_sinks.model_copy(update={"anomaly_signal": False}), tmp_path / "off")
    quiet = make_sink(off, model)
    quiet.parts.rules = RulesFile(rules)
    quiet.process(batch, 0)
    plain = lake(off, "transactions/")
    assert plain["anomaly_score"].null_count == plain.num_rows
    assert not any("anomalous" in r for r in plain["reasons"].to_pylist())

    # a threshold so low (the batch's median) that the budget must ration the candidates
    median = float(np.quantile(model.anomaly.score(lake_matrix(plain)), 0.5))
    loose = replace(model.anomaly, threshold=median)
    sink = make_sink(fresh_sinks, replace(model, anomaly=loose))
    sink.parts.rules = RulesFile(rules)
    sink.process(batch, 0)
    rows = lake(fresh_sinks, "transactions/").to_pandas()
    anomalous = rows[rows["reasons"].map(lambda r: "anomalous" in r)]
    assert len(anomalous) > 0
    assert (anomalous["decision"] == "review").all()
    assert (anomalous["reasons"].map(len) == 1).all()  # nothing else found them
    assert (anomalous["anomaly_score"] >= median).all()
    hour = rows["event_time"].dt.floor("h")
    allowed = rows.groupby(hour).size() * config["budget"]["review_share"] * 0.5
    per_hour = anomalous.groupby(hour.loc[anomalous.index]).size()
    assert (per_hour <= allowed.loc[per_hour.index]).all()  # within the anomaly part
    approved = rows[rows["decision"] == "approve"]
    assert (approved["anomaly_score"] >= median).sum() > len(anomalous)  # it rationed
    alerted = {a["transaction_id"]["S"] for a in alerts(fresh_sinks)}
    assert alerted >= set(anomalous["transaction_id"])
    # a model trained before the detector: the signal is off, with a warning
    assert make_sink(fresh_sinks, replace(model, anomaly=None)).anomaly is None


def test_labels_raise_merchant_risk_after_the_delay(
    fresh_sinks: Settings, generator_model_dir: Path, traffic: list[GeneratedTransaction]
) -> None:
    model = load_model(generator_model_dir)
    rows = RowFactory()
    sink = make_sink(fresh_sinks, model)
    merchant = traffic[0].event.merchant_id
    at_merchant = [g for g in traffic if g.event.merchant_id == merchant]
    fraud = GeneratedTransaction(at_merchant[0].event, True, "test")
    sink.process(
        rows.batch(at_merchant[:1], labels=[fraud], label_time=at_merchant[0].event.event_time), 0
    )
    later = at_merchant[1:3]
    assert later and later[0].event.event_time - fraud.event.event_time > timedelta(minutes=2)
    sink.process(rows.batch(later), 1)
    written = lake(fresh_sinks, "transactions/").to_pylist()
    share = {r["transaction_id"]: dict(r["features"])["merchant_fraud_share_1d"] for r in written}
    assert share[at_merchant[0].event.transaction_id] == 0.0
    assert share[later[0].event.transaction_id] > 0.0


def test_an_empty_batch_is_fine(fresh_sinks: Settings, generator_model_dir: Path) -> None:
    model = load_model(generator_model_dir)
    sink = make_sink(fresh_sinks, model)
    summary = sink.process(RowFactory().batch([]), 0)
    assert summary.rows == 0 and lake(fresh_sinks, "transactions/").num_rows == 0


def test_repeats_and_late_transactions_are_dropped_and_counted_across_a_restart(
    fresh_sinks: Settings, generator_model_dir: Path, traffic: list[GeneratedTransaction]
) -> None:
    # Kinesis delivers at least once: a transaction seen before (in this batch or an earlier
    # one, before a restart too) is processed once; one older than the watermark of the batches
    # before is dropped as late. Both are counted.
    model = load_model(generator_model_dir)
    rows = RowFactory()
    window = fresh_sinks.watermark_ms

    def ms(g: GeneratedTransaction) -> int:
        return int(g.event.event_time.timestamp() * 1000)

    first, second = traffic[:1_000], traffic[1_000:2_000]
    newest = max(ms(g) for g in first)
    recent = [g for g in first if ms(g) >= newest - window][-20:]  # within the watermark
    old = [g for g in first if ms(g) < newest - window][:30]  # past it
    assert len(recent) >= 5 and len(old) == 30
    sink = make_sink(fresh_sinks, model)
    summary0 = sink.process(rows.batch(first + first[-5:]), 0)  # five repeated in the batch
    assert (summary0.rows, summary0.duplicates, summary0.late_events) == (1_000, 5, 0)

    restarted = make_sink(fresh_sinks, model)  # the ids come back from the sink's store
    summary1 = restarted.process(rows.batch(second + recent + old), 1)
    assert (summary1.rows, summary1.duplicates, summary1.late_events) == (1_000, len(recent), 30)
    ids = Counter(lake(fresh_sinks, "transactions/")["transaction_id"].to_pylist())
    assert set(ids) == {g.event.transaction_id for g in first + second}
    assert max(ids.values()) == 1
