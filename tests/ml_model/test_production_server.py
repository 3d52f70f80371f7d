"""``fraudstream serve-model`` as it runs in production: gunicorn with a body limit that holds
for chunked bodies, socket timeouts and a connection cap."""

from __future__ import annotations

import http.client
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fraudstream.demo.processes import Child, http_ok
from ml_model.artifact import ModelBundle
from ml_model.features import FEATURE_NAMES, FeatureConfig, build
from ml_model.serving import codec
from ml_model.serving.server import ServerLimits, gunicorn_options
from ml_model.testing import synthetic_history
from tests.conftest import free_port

TIMEOUT_SECONDS = 1  # the server's socket timeout in these tests


def test_gunicorn_runs_bounded() -> None:
    limits = ServerLimits(workers=2, threads=3, max_connections=40, timeout_seconds=7)
    options = gunicorn_options("0.0.0.0", 8080, limits, log_level="WARNING")
    assert options["bind"] == ["0.0.0.0:8080"]
    assert options["worker_class"] == "gthread" and options["workers"] == 2
    assert options["threads"] == 3 and options["worker_connections"] == 40
    assert options["timeout"] == 7 and 0 < options["keepalive"] <= 60
    assert options["limit_request_line"] <= 8190 and options["limit_request_fields"] <= 100
    assert options["control_socket_disable"] is True and options["preload_app"] is False
    assert options["loglevel"] == "warning"
    assert gunicorn_options("::1", 80, limits)["bind"] == ["[::1]:80"]
    with pytest.raises(ValueError, match="threads"):
        ServerLimits(threads=0)


def test_every_accepted_connection_inherits_the_socket_timeouts() -> None:
    options = gunicorn_options("127.0.0.1", 0, ServerLimits(timeout_seconds=7))

    class Arbiter:
        def __init__(self, listener: socket.socket) -> None:
            self.LISTENERS = [listener]

    with socket.create_server(("127.0.0.1", 0)) as listener:
        options["when_ready"](Arbiter(listener))
        with socket.create_connection(listener.getsockname()), listener.accept()[0] as accepted:
            for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
                seconds, _ = struct.unpack("ll", accepted.getsockopt(socket.SOL_SOCKET, option, 16))
                assert seconds == 7


@pytest.fixture(scope="module")
def served(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        "FRAUDSTREAM_MODEL_SERVER_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "FRAUDSTREAM_MODEL_SERVER_THREADS": "2",
    }
    args = ["serve-model", "--port", str(port), "--model-dir", str(model_dir)]
    child = Child.start("model-server", args, env, tmp_path_factory.mktemp("logs"))
    url = f"http://127.0.0.1:{port}"
    try:
        child.wait_until(lambda: http_ok(url + "/ping"), 60, "ready")
        yield url
    finally:
        child.stop(grace=15)


def connect(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def chunked(url: str, body: bytes) -> tuple[int, bytes]:
    connection = connect(url)
    try:
        parts = (body[i : i + 65536] for i in range(0, len(body), 65536))
        connection.request(
            "POST",
            "/invocations",
            body=parts,
            headers={"Content-Type": "text/csv"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.integration
def test_gunicorn_answers_the_sagemaker_contract(served: str, bundle: ModelBundle) -> None:
    connection = connect(served)
    connection.request("GET", "/ping")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Server", "").startswith("gunicorn")
    response.read()
    frame = synthetic_history(cards=10, days=3.0, seed=2)
    rows = build(frame, frame, FeatureConfig())[:200]
    code, text = chunked(served, b"\n".join(codec.encode_csv_rows(rows)))
    assert code == 200, text
    assert np.array_equal(codec.decode_scores(text, "text/csv")[0], bundle.predict(rows))


@pytest.mark.integration
def test_a_chunked_body_over_the_limit_is_413(served: str) -> None:
    row = ",".join(["900"] * len(FEATURE_NAMES)).encode()
    code, text = chunked(served, b"\n".join([row] * (6 * 1024 * 1024 // (len(row) + 1) + 10)))
    assert code == 413, text


@pytest.mark.integration
def test_a_silent_client_loses_its_connection(served: str) -> None:
    """Headers that stop arriving hold no thread for long: the kernel's read timeout ends the
    read and gunicorn closes the connection (before: Werkzeug waited forever)."""
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        started = time.monotonic()
        assert client.recv(1024) == b""  # closed by the server, not by our 30 s timeout
        assert time.monotonic() - started < 25


@pytest.mark.integration
def test_a_stalled_body_is_408(served: str) -> None:
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 100\r\n\r\n1,2,3"
        )
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
