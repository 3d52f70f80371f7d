"""The reliability tests' tools: run the processor as a user does (``fraudstream process``),
crash it at a named point, and read back everything a run leaves, in a form two runs can be
compared in (lake rows, alert items, the sink's state, Spark's batch plan)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fraudstream import aws
from fraudstream.demo.processes import Child
from fraudstream.readback import lake_table
from fraudstream.settings import Settings, to_environment
from ml_model.features import FeatureConfig
from processor.sink_state import SinkStore, encode
from processor.windows import WindowSpec

LAKE_TABLES = ("transactions", "labels", "quarantine", "aggregates")
VOLATILE = ("processed_at",)
"""Lake columns that hold the wall clock of the write, so differ between any two runs."""


def wait_for(ready: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def shard(number: int) -> str:
    return f"shardId-{number:012d}"


def double_kinesis_run(
    base: Settings, model_dir: Path, tx: str, labels: str, watermark: str
) -> Settings:
    """Settings of a processor reading ``tx`` and ``labels`` from the Kinesis double (reached
    through ``AWS_ENDPOINT_URL_KINESIS``) in small batches, ``base``'s sinks, no metrics port."""
    return base.model_copy(
        update={
            "stream_name": tx,
            "labels_stream_name": labels,
            "model_dir": model_dir,
            "watermark": watermark,
            "max_records_per_trigger": 300,
            "metrics_port": 0,
        }
    )


def start(settings: Settings, name: str, *args: str) -> Child:
    """``fraudstream process`` with ``settings``, in its own process group; its output goes to
    ``<state dir>/logs/<name>.log``."""
    log_dir = Path(settings.state_dir) / "logs"
    return Child.start(name, ["process", *args], to_environment(settings), log_dir)


def drain(settings: Settings, name: str, timeout: float = 600) -> None:
    """``fraudstream process --available-now``: process what the streams hold, then exit."""
    child = start(settings, name, "--available-now")
    code = child.wait(timeout=timeout)
    assert code == 0, f"{name} exited with {code}:\n{child.tail(40)}"
    child.stop(grace=30)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def crash(settings: Settings, point: str, timeout: float = 600) -> float:
    """Run the processor until it kills itself at ``point`` (``<step>:<batch id>``); return
    how long its JVM and Python workers took to exit after it (they must, on their own)."""
    child = start(settings.model_copy(update={"crash_at": point}), f"crash-{point}")
    code = child.wait(timeout=timeout)
    assert code == -signal.SIGKILL, f"expected a SIGKILL at {point}, got {code}:\n{child.tail(40)}"
    died = time.monotonic()
    while group_alive(child.process.pid) and time.monotonic() - died < 60:
        time.sleep(0.1)
    orphaned = group_alive(child.process.pid)
    child.stop(grace=5)  # kills what is left, as Kubernetes would the pod
    assert not orphaned, f"the JVM outlived its driver by 60 s after the crash at {point}"
    return time.monotonic() - died


def new_checkpoint(settings: Settings, root: Path) -> Settings:
    """``settings`` with a state folder (checkpoint, logs) of its own under ``root``."""
    folder = root / f"run-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    return settings.model_copy(update={"state_dir": folder})


def query_checkpoint(settings: Settings) -> Path:
    return Path(settings.checkpoint_dir) / "query"


def committed(settings: Settings) -> list[int]:
    """Ids of the batches Spark committed, in order."""
    commits = query_checkpoint(settings) / "commits"
    return sorted(int(p.name) for p in commits.glob("*") if p.name.isdigit())


def batch_plan(settings: Settings) -> dict[int, list[Any]]:
    """Each planned batch's source offsets (what it read, per stream and shard), from Spark's
    offset log; the second line (the batch's wall-clock timestamp) is left out."""
    plan = {}
    for path in (query_checkpoint(settings) / "offsets").glob("*"):
        if path.name.isdigit():
            lines = path.read_text().splitlines()
            watermark = json.loads(lines[1])["batchWatermarkMs"]
            plan[int(path.name)] = [watermark, *(json.loads(line) for line in lines[2:])]
    return plan


def shards_read(settings: Settings, stream: str = "transactions") -> set[str]:
    """The shards of ``stream`` that some committed batch read records from."""
    plan = batch_plan(settings)
    read = set()
    for batch_id in committed(settings):
        for offset in plan.get(batch_id, [])[1:]:
            shards = offset.get(stream, {}).get("shards", {})
            read |= {sid for sid, position in shards.items() if position.get("seq")}
    return read


def canonical_rows(table: pa.Table) -> list[str]:
    """The rows as sorted JSON texts, volatile columns left out: two tables hold the same rows
    exactly when these lists are equal (NaN included, which ``==`` would refuse)."""
    kept = table.drop_columns([c for c in VOLATILE if c in table.column_names])
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in kept.to_pylist())


def alert_items(settings: Settings) -> list[str]:
    """Every item of the alerts table, whole, as sorted JSON texts."""
    dynamodb = aws.client("dynamodb", settings)
    pages = dynamodb.get_paginator("scan").paginate(TableName=settings.alerts_table)
    return sorted(json.dumps(item, sort_keys=True) for page in pages for item in page["Items"])


FOLDED: dict[str, tuple[str, ...] | None] = {
    "cards": ("old_t", "old_loc_t", "old_lat", "old_lon", "home_lat", "home_lon", "home_n"),
    "card_entries": None,
    "card_pairs": None,
}
"""The parts of the card state (columns; None: the whole table) that hold a card's older
transactions either exactly (``card_entries``) or folded into per-card summaries, depending on
when the exact log was last restored from a snapshot; when an entry is folded moves no feature
(``ml_model/features/entries.py``). Two runs' are compared by what they answer instead."""
PROBE_COLUMNS = (
    "card_id",
    "merchant_id",
    "amount",
    "merchant_category",
    "channel",
    "lat",
    "lon",
)


@dataclass
class State:
    """The batch sink's state as a restart would load it, in a form two runs compare in."""

    meta: dict[str, Any]
    tables: dict[str, bytes]
    """Each table's bytes, the :data:`FOLDED` parts left out."""
    answers: np.ndarray
    """The features the state computes for the probe batch (:func:`sink_state`)."""


def sink_state(settings: Settings, config: FeatureConfig, probe: pa.Table) -> State:
    """The state after the last committed batch. ``probe`` is transactions without times
    (:data:`PROBE_COLUMNS`), put 1 ms after the newest event the state has seen: their
    features read every card's and merchant's whole history, folded or not."""
    store = SinkStore(f"{settings.checkpoint_dir}/sink-state", settings)
    last = committed(settings)[-1]
    state = store.load_before(last + 1, config, WindowSpec(delay_ms=settings.watermark_ms))
    meta, tables = state.to_tables()
    kept = {}
    for name, table in tables.items():
        folded = FOLDED.get(name, ())
        if folded is not None:
            kept[name] = encode(table.drop_columns(list(folded)).combine_chunks())
    at = np.full(probe.num_rows, meta["newest_ms"] + 1, dtype=np.int64)
    answers = state.engine.compute(
        probe.select(list(PROBE_COLUMNS)).append_column("event_ms", [at])
    )
    return State(meta, kept, answers)


@dataclass
class Written:
    """Everything a run left behind, comparable with ``==`` (but the state's answers)."""

    lake: dict[str, list[str]]
    alerts: list[str]
    state: State
    plan: dict[int, list[Any]]


def everything_written(settings: Settings, config: FeatureConfig, probe: pa.Table) -> Written:
    return Written(
        lake={name: canonical_rows(lake_table(settings, name)) for name in LAKE_TABLES},
        alerts=alert_items(settings),
        state=sink_state(settings, config, probe),
        plan=batch_plan(settings),
    )
