"""The benchmark harness: its pure parts, and the model server and processor children."""

import socket
from pathlib import Path

import pytest

from benchmarks.faults.processes import Processor, ProcessorFailed
from benchmarks.harness import ModelServer, rate_line
from fraudstream.demo.processes import Child, ChildFailedError, http_ok
from fraudstream.settings import load_settings


def test_rate_line_reads_the_run_with_the_scripts_detail_before_the_verdict() -> None:
    run = {
        "rate": 1000,
        "produced": 60_000,
        "processed": 59_876,
        "processed_per_s": 998,
        "e2e_latency": {"p50_ms": 412},
        "sustained": False,
    }
    assert rate_line(run, "p99 980 ms  batch p50 700 ms") == (
        "rate  1,000/s: processed  59,876/60,000 (998/s)  e2e p50 412 ms "
        "p99 980 ms  batch p50 700 ms sustained=False"
    )


@pytest.mark.integration
def test_model_server_that_cannot_start_fails_with_its_log(tmp_path: Path) -> None:
    """A port already taken: the server exits, and the error quotes its log instead of a bare
    'did not start' after a minute."""
    settings = load_settings(state_dir=tmp_path, model_dir=tmp_path / "no-model")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = ModelServer(settings, port=taken.getsockname()[1])
        with pytest.raises(ChildFailedError, match=r"(?s)model-server exited with status .*"):
            server.start(timeout=60)
    assert not server.running()
    assert (tmp_path / "logs" / "model-server.log").exists()


@pytest.mark.integration
def test_model_server_without_a_model_is_not_ready(tmp_path: Path) -> None:
    """It serves, but ``/ping`` says no model (503): start() waits for readiness, not for the
    port, and gives up with the log."""
    settings = load_settings(state_dir=tmp_path, model_dir=tmp_path / "no-model")
    server = ModelServer(settings)
    try:
        with pytest.raises(ChildFailedError, match="did not get ready within 3 s"):
            server.start(timeout=3)
        assert server.child is not None
        server.child.wait_until(lambda: "model server on" in server.child.tail(), 60, "serving")
        assert not http_ok(server.url + "/ping")  # up, and still not ready
    finally:
        server.stop()
    assert not server.running()


def test_processor_check_alive_reports_the_exit_and_the_log(tmp_path: Path) -> None:
    processor = Processor(load_settings(state_dir=tmp_path), tmp_path)
    with pytest.raises(ProcessorFailed, match="never started"):
        processor.check_alive()
    processor.child = Child.start("processor", ["--version"], {}, tmp_path, module="pip")
    processor.child.wait()
    with pytest.raises(ProcessorFailed, match=r"(?s)exited \(code 0\); last lines of .*pip \d"):
        processor.check_alive()
