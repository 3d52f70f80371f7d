"""The fault-tolerance suite (``make faults``) in its short profile, inside pytest: one session
emulator, one small model and one model server for all five scenarios. Each scenario runs the
real processor (a Spark job in its own process), producer and model server through one fault,
then accounts for every record in the lake, the alerts table and quarantine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.faults.malformed import KINDS
from benchmarks.faults.profile import SHORT
from benchmarks.faults.report import to_json
from benchmarks.faults.scenarios import Outcome, Rig, run_scenario
from benchmarks.harness import ModelServer
from fraudstream.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def rig(
    local_stack: Settings, generator_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    base = local_stack.model_copy(update={"model_dir": generator_model_dir, "metrics_port": 0})
    server = ModelServer(base).start()
    try:
        yield Rig(
            base.model_copy(update={"model_endpoint_url": server.url}),
            server,
            tmp_path_factory.mktemp("faults"),
            SHORT,
        )
    finally:
        server.stop()


def assert_exactly_once(outcome: Outcome) -> None:
    failed = sorted(name for name, ok in outcome.checks.items() if not ok)
    assert not failed, f"{outcome.scenario}: {failed} failed: {to_json(outcome)}"
    delivery = outcome.delivery
    assert delivery.sent > 0 and delivery.rows_out == delivery.sent
    assert (delivery.duplicates, delivery.losses) == (0, 0)
    assert delivery.alerts == delivery.flagged > 0


def test_kill_minus_9_mid_stream_resumes_from_the_checkpoint(rig: Rig) -> None:
    outcome = run_scenario(rig, "kill_restart")
    assert_exactly_once(outcome)
    assert outcome.details["rows_committed_before_kill"] > 0
    assert outcome.details["processor_starts"] == 2
    assert outcome.quarantine.quarantined == 0


def test_model_endpoint_down_scores_in_process_and_goes_back(rig: Rig) -> None:
    outcome = run_scenario(rig, "model_down")
    assert_exactly_once(outcome)
    assert outcome.details["rows_scored_in_process_during_outage"] > 0
    assert set(outcome.details["scored_by"]) == {"endpoint", "fallback"}
    assert outcome.recovery_s is not None


def test_throttled_puts_and_alert_writes_are_retried(rig: Rig) -> None:
    outcome = run_scenario(rig, "throttling")
    assert_exactly_once(outcome)
    injected = outcome.details["injected"]
    assert injected.get("put_records_failed_records", 0) > 0
    assert injected.get("batch_write_unprocessed_items", 0) > 0


def test_malformed_flood_is_quarantined_with_reasons(rig: Rig) -> None:
    outcome = run_scenario(rig, "malformed_flood")
    assert_exactly_once(outcome)
    quarantine = outcome.quarantine
    assert quarantine.sent == SHORT.malformed == quarantine.quarantined
    assert quarantine.by_reason == {kind: SHORT.malformed // len(KINDS) for kind in KINDS}
    assert (quarantine.lost, quarantine.duplicates, quarantine.wrong_reason) == (0, 0, 0)


def test_duplicate_deliveries_land_once(rig: Rig) -> None:
    outcome = run_scenario(rig, "duplicates")
    assert_exactly_once(outcome)
    assert outcome.events_in == 2 * outcome.delivery.sent
