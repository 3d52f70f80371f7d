"""The batch sink against the real emulator: every sink written once, replays identical."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraudstream import aws
from fraudstream.readback import lake_table
from fraudstream.settings import Settings
from ml_model.artifact import ModelBundle, load_model
from ml_model.features import FEATURE_NAMES, UNKNOWN
from ml_model.features.schema import FEATURE_INDEX
from ml_model.scoring.client import ScoringClient
from processor.batch_sink import BatchSink, SinkParts, decision_inputs
from processor.card_features import CARD_FEATURES
from processor.decisions import RulesFile
from processor.keyed_store import KeyedStateStore
from processor.sink_state import SinkStateStore
from processor.sinks.alerts import AlertWriter
from processor.sinks.lake import LakeWriter
from producer.generator import GeneratedTransaction, TransactionGenerator
from producer.simulated import simulated_config
from tests.processor.batch_rows import RowFactory

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY_MS = 86_400_000


def make_sink(settings: Settings, model: ModelBundle, *, driver_cards: bool = False) -> BatchSink:
    """A sink on the emulator; ``driver_cards`` keeps card state on the driver (the default
    deployment), else the rows must carry the Spark operator's card features."""
    runtime = aws.client("sagemaker-runtime", settings, max_attempts=1)
    cards = KeyedStateStore(str(settings.state_dir / "card-state"), settings, ttl_ms=31 * DAY_MS)
    parts = SinkParts(
        lake=LakeWriter(settings),
        alerts=AlertWriter(settings),
        store=SinkStateStore(str(settings.state_dir / "driver-state"), settings),
        # The emulator's SageMaker answers placeholders, so every batch exercises the fallback.
        scorer=ScoringClient(runtime, "absent", fallback=model, retries=0),
        rules=RulesFile(None),
        cards=cards if driver_cards else None,
    )
    return BatchSink(settings, model, parts, clock=lambda: NOW)


def lake(settings: Settings, table: str) -> pa.Table:
    return lake_table(settings, table.rstrip("/"))


def alerts(settings: Settings) -> list[dict[str, object]]:
    items = aws.client("dynamodb", settings).scan(TableName=settings.alerts_table)["Items"]
    return sorted(items, key=lambda i: str(i["alert_key"]))


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
    rows = RowFactory(model.feature_config)
    first, second = traffic[:1_500], traffic[1_500:]
    batch0 = rows.batch(first, quarantine=[("{bad", "bad_json"), ('{"amount":-1}', "bad_amount")])
    labelled = first[:400] + first[:50]  # 50 labels delivered twice
    batch1 = rows.batch(second, labels=labelled, label_time=second[0].event.event_time)

    sink = make_sink(fresh_sinks, model)
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

    # The features in the lake are the model's features, merchant risk included.
    features = transactions["features"][0].as_py()
    assert [name for name, _ in features] == list(FEATURE_NAMES)

    # A restart re-runs batch 1 from the snapshot of batch 0: same objects, same alerts.
    keys_before = sorted(
        o["Key"]
        for o in aws.client("s3", fresh_sinks).list_objects_v2(Bucket=fresh_sinks.bucket)[
            "Contents"
        ]
    )
    replay = make_sink(fresh_sinks, model)
    assert replay.process(batch1, 1).rows == 1_500
    keys_after = sorted(
        o["Key"]
        for o in aws.client("s3", fresh_sinks).list_objects_v2(Bucket=fresh_sinks.bucket)[
            "Contents"
        ]
    )
    assert keys_after == keys_before
    again = lake(fresh_sinks, "transactions/")
    assert again.num_rows == 3_000
    assert again.sort_by("transaction_id")["score"].equals(
        transactions.sort_by("transaction_id")["score"]
    )
    assert alerts(fresh_sinks) == before


def test_card_state_on_the_driver_gives_the_spark_operators_features_and_replays(
    fresh_sinks: Settings, generator_model_dir: Path, traffic: list[GeneratedTransaction]
) -> None:
    model = load_model(generator_model_dir)
    rows = RowFactory(model.feature_config)
    batches = [rows.batch(traffic[:1_000]), rows.batch(traffic[1_000:2_000])]
    expected = {
        tx_id: card_part
        for batch in batches
        for tx_id, card_part in zip(
            batch["transaction_id"].to_pylist(), batch[CARD_FEATURES].to_pylist(), strict=True
        )
        if tx_id is not None
    }
    without_card_features = [b.drop_columns([CARD_FEATURES]) for b in batches]
    sink = make_sink(fresh_sinks, model, driver_cards=True)
    for batch_id, batch in enumerate(without_card_features):
        sink.process(batch, batch_id)
    written = lake(fresh_sinks, "transactions/").sort_by("transaction_id")
    assert written.num_rows == 2_000
    card_width = len(next(iter(expected.values())))
    for row in written.select(["transaction_id", "features"]).to_pylist():
        values = [value for _, value in row["features"]]
        assert values[:card_width] == expected[row["transaction_id"]]

    # A restart re-runs batch 1 from the saved card state: the same features and scores.
    replay = make_sink(fresh_sinks, model, driver_cards=True)
    replay.process(without_card_features[1], 1)
    again = lake(fresh_sinks, "transactions/").sort_by("transaction_id")
    assert again.num_rows == 2_000
    assert again["features"].equals(written["features"])
    assert again["score"].equals(written["score"])


def test_rows_without_card_features_need_the_driver_card_state(
    fresh_sinks: Settings, generator_model_dir: Path, traffic: list[GeneratedTransaction]
) -> None:
    model = load_model(generator_model_dir)
    batch = RowFactory(model.feature_config).batch(traffic[:10]).drop_columns([CARD_FEATURES])
    with pytest.raises(ValueError, match="no card features"):
        make_sink(fresh_sinks, model).process(batch, 0)


def test_labels_raise_merchant_risk_after_the_delay(
    fresh_sinks: Settings, generator_model_dir: Path, traffic: list[GeneratedTransaction]
) -> None:
    model = load_model(generator_model_dir)
    rows = RowFactory(model.feature_config)
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
    summary = sink.process(RowFactory(model.feature_config).batch([]), 0)
    assert summary.rows == 0 and lake(fresh_sinks, "transactions/").num_rows == 0


def test_decision_inputs_from_features() -> None:
    matrix = np.zeros((2, len(FEATURE_NAMES)))
    matrix[:, FEATURE_INDEX["amount"]] = [100.0, 50.0]
    matrix[0, FEATURE_INDEX["card_count_30d"]] = 3
    matrix[0, FEATURE_INDEX["card_mean_30d"]] = 20.0
    matrix[:, FEATURE_INDEX["speed_from_previous_kmh"]] = [UNKNOWN, 4_000.0]
    matrix[:, FEATURE_INDEX["card_count_10m"]] = [0, 5]
    inputs = decision_inputs(matrix, np.array([0.1, 0.2]), [[], ["amount"]])
    assert inputs["card_mean_amount_30d"].tolist()[0] == 20.0
    assert np.isnan(inputs["card_mean_amount_30d"].tolist()[1])  # no history: unknown
    assert np.isnan(inputs["speed_kmh_from_prev"].tolist()[0])
    assert inputs["card_count_10m"].tolist() == [1, 6]  # this transaction included
