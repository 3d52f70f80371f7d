"""Fixtures shared by every test tier.

Integration tests talk to a real emulator process on a free loopback port (never 4566, so a
developer's own stack and parallel runs do not collide), with state under a temp folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudstream import aws
from fraudstream.demo.processes import free_port  # tests import it from here too
from fraudstream.settings import Settings, load_settings
from fraudstream.stack import lifecycle

HANDBOOK_ENV = "FRAUD_HANDBOOK_PARQUET"
HANDBOOK = Path(
    os.environ.get(HANDBOOK_ENV)  # read at import, before _isolated_env runs
    or Path(__file__).resolve().parents[2]
    / "shared"
    / "datasets"
    / "fraud-handbook"
    / "transactions_2018-04_2018-07.parquet"
)
"""The handbook dataset: ``$FRAUD_HANDBOOK_PARQUET``, else beside the clone, where
``make handbook-data`` (scripts/handbook_dataset.py) writes it; CI builds and caches it."""


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's AWS or FRAUDSTREAM_* environment out of the tests."""
    for name in list(os.environ):
        if name.startswith(("FRAUDSTREAM_", "AWS_ENDPOINT_URL")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A running emulator with the default resources; yields settings pointing at it."""
    port = free_port()
    settings = load_settings(
        stack_port=port,
        endpoint_url=f"http://127.0.0.1:{port}",
        state_dir=tmp_path_factory.mktemp("stack-state"),
    )
    lifecycle.up(settings)
    yield settings
    lifecycle.stop_emulator(settings)


@pytest.fixture
def fresh_streams(local_stack: Settings) -> Iterator[Settings]:
    """Settings whose transaction and label streams are new and empty, for one test."""
    suffix = uuid.uuid4().hex[:8]
    settings = local_stack.model_copy(
        update={"stream_name": f"tx-{suffix}", "labels_stream_name": f"labels-{suffix}"}
    )
    kinesis = aws.client("kinesis", settings)
    for name, shards in (
        (settings.stream_name, settings.stream_shards),
        (settings.labels_stream_name, settings.labels_stream_shards),
    ):
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        kinesis.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
    yield settings
    for name in (settings.stream_name, settings.labels_stream_name):
        kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


@pytest.fixture
def handbook_path() -> Path:
    """The handbook dataset; tests that need it skip with the reason where it is absent."""
    if not HANDBOOK.is_file():
        pytest.skip(
            f"handbook dataset not found at {HANDBOOK}: build it with `make handbook-data` "
            f"(or point {HANDBOOK_ENV} at it); CI builds it from the handbook's repository"
        )
    return HANDBOOK


@pytest.fixture
def faults(local_stack: Settings) -> Iterator[Callable[..., dict[str, Any]]]:
    """Set the session emulator's fault plan for one test, ``faults(Fault(...), ..., seed=N)``;
    ``faults.status()`` is the plan and what it injected; faithful again afterwards."""
    from fraudstream.stack.faults import FaultPlan, get_faults, set_faults

    endpoint = local_stack.endpoint_url or ""

    def apply(*rules: Any, seed: int = 0) -> dict[str, Any]:
        return set_faults(endpoint, FaultPlan(tuple(rules), seed))

    apply.status = lambda: get_faults(endpoint)  # type: ignore[attr-defined]
    yield apply
    set_faults(endpoint, FaultPlan())


@pytest.fixture(scope="session")
def generator_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained on the producer's history (the regime the processor tests use):
    800 cards over 8 days, 60 s label delay, 1-minute merchant buckets."""
    from datetime import UTC, datetime

    from ml_model.data.history import from_generator
    from ml_model.features import FeatureConfig
    from ml_model.training.fit import TrainParams
    from ml_model.training.pipeline import train_model
    from producer.history import generate_history

    folder = tmp_path_factory.mktemp("generator-model")
    table = generate_history(
        cards=800, days=8, seed=3, fraud_rate=0.03, start=datetime(2026, 1, 1, tzinfo=UTC)
    )
    train_model(
        from_generator(table, "generator"),
        out_dir=folder,
        config=FeatureConfig(label_delay_ms=60_000, merchant_bucket_ms=60_000),
        params=TrainParams(max_rounds=80, early_stopping_rounds=20, nthread=1, max_depth=4),
    )
    return folder


def new_sinks(settings: Settings, state_dir: Path) -> Settings:
    """``settings`` with a new empty lake bucket and alerts table, and ``state_dir``."""
    from fraudstream.stack.resources import ensure_bucket, ensure_table

    suffix = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={
            "bucket": f"lake-{suffix}",
            "alerts_table": f"alerts-{suffix}",
            "state_dir": state_dir,
        }
    )
    ensure_bucket(aws.client("s3", settings), settings.bucket, settings.region)
    ensure_table(aws.client("dynamodb", settings), settings.alerts_table, 30.0)
    return settings


@pytest.fixture
def fresh_sinks(local_stack: Settings, tmp_path: Path) -> Settings:
    """Settings with a new empty lake bucket, alerts table and state folder for one test."""
    return new_sinks(local_stack, tmp_path)
