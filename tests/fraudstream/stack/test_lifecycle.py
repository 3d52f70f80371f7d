"""Stack lifecycle against a real emulator process on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from fraudstream import aws
from fraudstream.cli import cli
from fraudstream.errors import StackError
from fraudstream.settings import Settings, load_settings
from fraudstream.stack import lifecycle
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def stack_settings(tmp_path: Path, **extra: object) -> Settings:
    port = free_port()
    return load_settings(
        stack_port=port,
        endpoint_url=f"http://127.0.0.1:{port}",
        state_dir=tmp_path / "state",
        **extra,
    )


def test_up_is_idempotent_and_down_stops_it(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    first = lifecycle.up(settings)
    try:
        assert first.managed and first.running and first.pid
        assert Path(first.log_path or "").is_file()
        second = lifecycle.up(settings)
        assert second.pid == first.pid  # reused, not restarted
        assert set(second.resources.streams) == {"transactions", "transaction-labels"}  # type: ignore[union-attr]
        kinesis = aws.client("kinesis", settings)
        summary = kinesis.describe_stream_summary(StreamName="transactions")[
            "StreamDescriptionSummary"
        ]
        assert summary["OpenShardCount"] == 4
        table = aws.client("dynamodb", settings).describe_table(TableName="fraud-alerts")["Table"]
        assert [k["AttributeName"] for k in table["KeySchema"]] == ["card_id", "alert_key"]
        aws.client("s3", settings).head_bucket(Bucket="fraudstream-lake")
        with pytest.raises(ClientError):
            aws.client("s3", settings).head_object(Bucket="fraudstream-lake", Key="absent")
        assert lifecycle.status(settings).running
        # The request log keeps the failed request, not the many that succeeded.
        requests = [
            line for line in Path(first.log_path or "").read_text().splitlines() if '"' in line
        ]
        assert any("HEAD /fraudstream-lake/absent" in line and " 404 " in line for line in requests)
        assert not any('" 200 ' in line for line in requests)
    finally:
        assert lifecycle.stop_emulator(settings)
    assert not lifecycle.status(settings).running
    assert not lifecycle.stop_emulator(settings)  # nothing left to stop


def test_down_never_kills_a_process_it_did_not_start(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # Right after exec its command line reads empty for a moment, which stop_emulator
        # gives the benefit of the doubt (a starting emulator); the test is about a stranger.
        cmdline = Path(f"/proc/{stranger.pid}/cmdline")
        deadline = time.monotonic() + 10
        while cmdline.exists() and not cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        settings.state_dir.mkdir(parents=True)
        (settings.state_dir / lifecycle.STATE_FILE).write_text(
            f'{{"pid": {stranger.pid}, "endpoint": "x", "log_path": "x", '
            f'"started_at": "x", "patched": true}}'
        )
        assert not lifecycle.stop_emulator(settings)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_port_taken_by_something_else_is_a_clear_error(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", settings.stack_port))
        sock.listen()
        with pytest.raises(StackError, match="already in use"):
            lifecycle.up(settings)


def test_external_endpoint_only_creates_resources(tmp_path: Path) -> None:
    """AWS_ENDPOINT_URL at a running emulator (as with LocalStack): nothing new is started.

    The emulator is this test's own: ``up`` points the Glue tables at its bucket, which would
    change the session's shared stack under the tests that read it."""
    port = free_port()
    external = load_settings(
        stack_port=port, endpoint_url=f"http://127.0.0.1:{port}", state_dir=tmp_path / "ext"
    )
    lifecycle.start_emulator(external)
    try:
        settings = external.model_copy(
            update={"stack_port": free_port(), "state_dir": tmp_path, "bucket": "other-lake"}
        )
        status = lifecycle.up(settings)
        assert not status.managed and status.endpoint == external.endpoint_url
        assert lifecycle.read_state(settings) is None
        aws.client("s3", settings).head_bucket(Bucket="other-lake")
    finally:
        lifecycle.stop_emulator(external)

    dead = settings.model_copy(update={"endpoint_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(StackError, match="does not answer"):
        lifecycle.up(dead)


def test_emulator_that_dies_at_start_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = stack_settings(tmp_path)
    monkeypatch.setattr(lifecycle, "EMULATOR_MODULE", "fraudstream.no_such_module")
    with pytest.raises(StackError, match="exited during start-up"):
        lifecycle.start_emulator(settings, timeout=20)
    assert lifecycle.read_state(settings) is None


def test_cli_round_trip(tmp_path: Path) -> None:
    port = free_port()
    env = {"FRAUDSTREAM_STACK_PORT": str(port), "FRAUDSTREAM_STATE_DIR": str(tmp_path)}
    runner = CliRunner()
    result = runner.invoke(cli, ["stack", "status"], env=env)
    assert result.exit_code == 1 and "stopped" in result.output
    result = runner.invoke(cli, ["stack", "up"], env=env)
    try:
        assert result.exit_code == 0, result.output
        assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in result.output
        assert "transaction-labels" in result.output
        status = runner.invoke(cli, ["stack", "status"], env=env)
        assert status.exit_code == 0 and "running" in status.output
        exports = runner.invoke(cli, ["stack", "env"], env=env)
        assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in exports.output
    finally:
        down = runner.invoke(cli, ["stack", "down"], env=env)
    assert "stack stopped" in down.output
    bad = runner.invoke(cli, ["stack", "up"], env={**env, "FRAUDSTREAM_STREAM_SHARDS": "-1"})
    assert bad.exit_code == 1
    assert "invalid setting stream_shards [FRAUDSTREAM_STREAM_SHARDS]" in bad.output


def test_sigterm_is_enough_to_stop_the_emulator(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    state = lifecycle.start_emulator(settings)
    os.killpg(state.pid, signal.SIGTERM)
    lifecycle.stop_emulator(settings)
    assert not lifecycle.status(settings).running


def test_cli_faults(tmp_path: Path) -> None:
    port = free_port()
    env = {"FRAUDSTREAM_STACK_PORT": str(port), "FRAUDSTREAM_STATE_DIR": str(tmp_path)}
    runner = CliRunner()
    assert (
        "no emulator answers" in runner.invoke(cli, ["stack", "faults", "--show"], env=env).output
    )
    assert runner.invoke(cli, ["stack", "up"], env=env).exit_code == 0
    try:
        result = runner.invoke(cli, ["stack", "faults", "--put-records-fail", "0.25"], env=env)
        assert result.exit_code == 0 and "PutRecords:partial 25% of records" in result.output
        shown = runner.invoke(cli, ["stack", "faults", "--show"], env=env)
        assert "PutRecords:partial 25%" in shown.output
        bad = runner.invoke(cli, ["stack", "faults", "--batch-write-throttle", "3"], env=env)
        assert bad.exit_code == 1 and "within [0, 1]" in bad.output
        plan = tmp_path / "plan.json"
        plan.write_text('{"faults": [{"operation": "GetRecords", "probability": 0.5}]}')
        planned = runner.invoke(cli, ["stack", "faults", "--plan", str(plan)], env=env)
        assert "GetRecords:error 50% of calls" in planned.output
        plan.write_text('{"faults": [{"operation": "GetRecords", "effect": "partial"}]}')
        wrong = runner.invoke(cli, ["stack", "faults", "--plan", str(plan)], env=env)
        assert wrong.exit_code == 1 and "partial applies to" in wrong.output
        off = runner.invoke(cli, ["stack", "faults"], env=env)
        assert "faults: none" in off.output
    finally:
        runner.invoke(cli, ["stack", "down"], env=env)


def test_shard_limits_can_be_turned_off_and_a_mismatch_is_an_error(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["stack", "up", "--no-shard-limits"],
        env={
            "FRAUDSTREAM_STACK_PORT": str(settings.stack_port),
            "FRAUDSTREAM_STATE_DIR": str(settings.state_dir),
            "AWS_ENDPOINT_URL": settings.endpoint_url or "",
        },
    )
    try:
        assert result.exit_code == 0, result.output
        assert "Kinesis shard limits off" in result.output
        state = lifecycle.read_state(settings)
        assert state is not None and not state.shard_limits
        kinesis = aws.client("kinesis", settings, max_attempts=1)
        kinesis.create_stream(StreamName="unlimited", ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(StreamName="unlimited")
        for _ in range(6):  # 3,000 records at once into one shard: all taken
            answer = kinesis.put_records(
                StreamName="unlimited",
                Records=[{"Data": b"x", "PartitionKey": str(i)} for i in range(500)],
            )
            assert answer["FailedRecordCount"] == 0
        with pytest.raises(StackError, match="shard limits off"):
            lifecycle.up(settings)  # limits on by default: not what runs
    finally:
        lifecycle.stop_emulator(settings)
