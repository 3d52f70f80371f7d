"""The demo's child processes, as real ``fraudstream`` commands."""

import os
import time
from pathlib import Path

import pytest

from fraudstream.demo.processes import Child, ChildFailedError, http_ok, produce_args
from tests.conftest import free_port


def test_a_child_that_exits_early_fails_with_its_log(tmp_path: Path) -> None:
    child = Child.start("bad", ["produce", "--rate", "-1"], {}, tmp_path)
    with pytest.raises(ChildFailedError, match=r"(?s)bad exited with status 1 .*--rate must be"):
        child.wait_until(lambda: False, timeout=60, what="ready")
    assert child.stop() == 1
    assert (tmp_path / "bad.log").exists()


def test_a_server_child_becomes_ready_then_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {"FRAUDSTREAM_METRICS_PORT": "9"}  # nothing there: the page still serves
    child = Child.start("web", ["dashboard", "--port", str(port)], env, tmp_path)
    try:
        child.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/"), 60, "serving")
        with pytest.raises(ChildFailedError, match="did not get never within 0 s"):
            child.wait_until(lambda: False, timeout=0.2, what="never")
    finally:
        status = child.stop(grace=20)
    assert not child.running
    assert status in (0, -15)  # stopped by SIGTERM, cleanly or by the signal itself


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # not a zombie


def _grandchild_pid(child: Child) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = child.log_path.read_text().strip()
        if text:
            return int(text.splitlines()[0])
        time.sleep(0.05)
    raise AssertionError("the child printed no pid")


@pytest.mark.parametrize(("linger", "grace"), [("1.5", 20.0), ("600", 1.0)])
def test_stop_leaves_nothing_of_the_childs_group_running(
    tmp_path: Path, linger: str, grace: float
) -> None:
    """What the child started ends with it: waited for while it finishes on its own (a JVM
    after its driver), killed when it outlives the grace period."""
    child = Child.start(
        "lingering", [linger], {}, tmp_path, module="tests.fraudstream.demo.lingering_child"
    )
    grandchild = _grandchild_pid(child)
    assert _alive(grandchild)
    child.stop(grace=grace)
    assert not child.running
    assert not _alive(grandchild)
    with pytest.raises(ProcessLookupError):
        os.killpg(child.process.pid, 0)


def test_http_ok_is_false_where_nothing_listens() -> None:
    assert not http_ok("http://127.0.0.1:9/nothing", timeout=0.5)
    assert not http_ok("not a url")


def test_first_batch_committed_reads_the_processors_last_batch_gauge() -> None:
    """The demo starts traffic only once the processor has committed its first batch."""
    from fraudstream.demo.runner import first_batch_committed
    from processor.metrics import ProcessorMetrics, serve

    metrics = ProcessorMetrics()
    server = serve(metrics)
    try:
        assert not first_batch_committed(server.url)  # started, nothing committed (-1)
        metrics.metric("fraudstream_last_batch_id").set(0)
        assert first_batch_committed(server.url)
    finally:
        server.stop()
    assert not first_batch_committed(server.url)  # gone: not committed, no exception


def test_produce_args_pass_only_the_options_given_in_one_order() -> None:
    assert produce_args(rate=500.0, duration=60.0, cards=20_000) == [
        *("produce", "--clock", "simulated"),
        *("--rate", "500.0", "--duration", "60.0", "--cards", "20000"),
    ]
    every = produce_args(rate=150, duration=20, cards=500, fraud_rate=0.05, seed=7, label_delay=60)
    assert every[3:] == [
        *("--rate", "150", "--duration", "20", "--cards", "500"),
        *("--fraud-rate", "0.05", "--seed", "7", "--label-delay", "60"),
    ]
    drifted = produce_args(rate=150, duration=20, cards=500, drift="fraud_x5", drift_at=10)
    assert drifted[-4:] == ["--drift", "fraud_x5", "--drift-at", "10"]
