"""The scoring client against a real model server, with failures injected into the server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from werkzeug.serving import make_server

from fraudstream.settings import load_settings
from ml_model.artifact import ModelBundle
from ml_model.errors import FeatureCountError, ScoringUnavailable
from ml_model.features import FEATURE_NAMES, FeatureConfig, build
from ml_model.scoring import CircuitBreaker, ScoringClient
from ml_model.scoring.client import plan_requests, to_matrix
from ml_model.serving.app import create_app
from ml_model.testing import synthetic_history
from tests.conftest import free_port

pytestmark = pytest.mark.integration
ENDPOINT = "fraudstream-test"


class Faults:
    """WSGI middleware in front of the real app: fail, or stall, the next requests."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fail_next = 0
        self.fail_status = "503 Service Unavailable"
        self.stall_seconds = 0.0
        self.requests = 0
        self.bodies: list[int] = []
        self.in_flight = 0
        self.most_in_flight = 0  # the most invocations the server held at once
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Any:
        if not environ["PATH_INFO"].endswith("/invocations"):
            return self.app(environ, start)
        with self._lock:
            self.requests += 1
            self.bodies.append(int(environ.get("CONTENT_LENGTH") or 0))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            fail = self.fail_next > 0
            self.fail_next -= fail
        try:
            if self.stall_seconds:
                time.sleep(self.stall_seconds)
            if fail:
                start(self.fail_status, [("Content-Type", "application/json")])
                return [b'{"message": "injected failure"}']
            return self.app(environ, start)
        finally:
            with self._lock:
                self.in_flight -= 1


class Server:
    def __init__(self, model_dir: Path) -> None:
        self.faults = Faults(create_app(model_dir, endpoint_name=ENDPOINT))
        self.port = free_port()
        self.httpd = make_server("127.0.0.1", self.port, self.faults, threaded=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(model_dir: Path) -> Iterator[Server]:
    running = Server(model_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    frame = synthetic_history(cards=30, days=8.0, seed=21)
    matrix = build(frame, frame, FeatureConfig())
    return pd.DataFrame(matrix, columns=FEATURE_NAMES).assign(
        transaction_id=frame["transaction_id"]
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_client(url: str, bundle: ModelBundle, **kwargs: Any) -> ScoringClient:
    settings = load_settings(
        model_endpoint_url=url,
        sagemaker_endpoint=ENDPOINT,
        model_request_timeout_seconds=kwargs.pop("timeout", 5.0),
        model_retries=kwargs.pop("retries", 2),
    )
    kwargs.setdefault("sleep", lambda _s: None)
    kwargs.setdefault("fallback", bundle)
    return ScoringClient.from_settings(settings, **kwargs)


def test_endpoint_scores_with_version_and_reasons(
    server: Server, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    client = make_client(server.url, bundle)
    scored = client.score(batch)
    assert len(scored) == len(batch)
    assert set(scored.scored_by) == {"endpoint"}
    assert set(scored.model_version) == {bundle.version}
    assert np.array_equal(scored.scores, bundle.predict(to_matrix(batch)))
    thresholds = bundle.thresholds
    assert thresholds is not None
    flagged = scored.scores >= thresholds.review
    assert flagged.any()
    top = scored.reason_features
    assert top.shape == (len(batch), 3)
    assert ((top[flagged] >= 0).sum(axis=1) >= 1).all()  # every flagged row has a reason
    assert (top[~flagged] == -1).all()  # only flagged rows are explained
    assert list(scored.feature_names) == list(FEATURE_NAMES)
    words = [scored.feature_words[k] for k in top[flagged][0] if k >= 0]
    assert all(" " in word for word in words)  # plain words, not codes


def test_arrow_and_array_batches(server: Server, bundle: ModelBundle, batch: pd.DataFrame) -> None:
    client = make_client(server.url, bundle, reasons="none")
    from_arrow = client.score(pa.Table.from_pandas(batch.head(50)))
    from_array = client.score(batch[list(FEATURE_NAMES)].head(50).to_numpy())
    assert np.array_equal(from_arrow.scores, from_array.scores)
    assert client.score(np.zeros((0, len(FEATURE_NAMES)))).scores.shape == (0,)
    with pytest.raises(FeatureCountError):
        client.score(np.zeros((2, 3)))


def test_requests_stay_under_the_payload_limit(
    server: Server, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    client = make_client(server.url, bundle, max_payload_bytes=20_000, reasons="none")
    scored = client.score(batch)
    assert server.faults.requests > 1
    assert max(server.faults.bodies) <= 20_000
    assert set(scored.scored_by) == {"endpoint"}
    assert np.array_equal(scored.scores, bundle.predict(to_matrix(batch)))


def ends(sizes: list[int]) -> np.ndarray:
    """Offsets just past each line of a body whose lines (newline included) have ``sizes``."""
    return np.cumsum(sizes, dtype=np.int64)


def test_plan_requests_respects_bytes_and_rows() -> None:
    assert plan_requests(ends([11] * 10), max_bytes=33, max_rows=100) == [
        (0, 3),
        (3, 6),
        (6, 9),
        (9, 10),
    ]
    assert plan_requests(ends([11] * 5), max_bytes=1000, max_rows=2) == [(0, 2), (2, 4), (4, 5)]
    assert plan_requests(ends([]), max_bytes=10, max_rows=1) == []
    with pytest.raises(FeatureCountError):
        plan_requests(ends([50]), max_bytes=10, max_rows=1)


def test_transient_failures_are_retried(
    server: Server, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    server.faults.fail_next = 2
    client = make_client(server.url, bundle, retries=2, reasons="none")
    scored = client.score(batch.head(20))
    assert set(scored.scored_by) == {"endpoint"}
    assert client.counts["retries"] == 2


def test_down_endpoint_falls_back_in_process(bundle: ModelBundle, batch: pd.DataFrame) -> None:
    from tests.conftest import free_port as port

    client = make_client(f"http://127.0.0.1:{port()}", bundle, retries=1, reasons="none")
    scored = client.score(batch.head(30))  # nothing listens there: connection refused
    assert set(scored.scored_by) == {"fallback"}
    assert set(scored.model_version) == {bundle.version}
    assert np.array_equal(scored.scores, bundle.predict(to_matrix(batch.head(30))))
    assert scored.endpoint_errors


def test_timeouts_fall_back(server: Server, bundle: ModelBundle, batch: pd.DataFrame) -> None:
    server.faults.stall_seconds = 1.5
    client = make_client(server.url, bundle, retries=0, timeout=0.3, reasons="none")
    scored = client.score(batch.head(5))
    assert set(scored.scored_by) == {"fallback"}
    assert "Timeout" in scored.endpoint_errors[0]


def test_client_errors_are_not_retried(
    server: Server, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    server.faults.fail_next = 1
    server.faults.fail_status = "400 Bad Request"
    client = make_client(server.url, bundle, retries=3, reasons="none")
    scored = client.score(batch.head(5))
    assert set(scored.scored_by) == {"fallback"}
    assert client.counts["retries"] == 0


def test_breaker_opens_then_probes(
    server: Server, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=30, clock=clock)
    client = make_client(server.url, bundle, retries=0, breaker=breaker, reasons="none")
    server.faults.fail_next = 100
    rows = batch.head(5)
    for _ in range(2):
        assert client.score(rows).scored_by.tolist() == ["fallback"] * 5
    assert breaker.state == "open"
    calls = server.faults.requests
    assert client.score(rows).scored_by.tolist() == ["fallback"] * 5
    assert server.faults.requests == calls  # open: the endpoint is not called at all
    server.faults.fail_next = 0
    clock.now += 31  # half-open: one trial call, which succeeds and closes the circuit
    assert client.score(rows).scored_by.tolist() == ["endpoint"] * 5
    assert breaker.state == "closed"


def test_no_fallback_and_no_endpoint_is_an_error(batch: pd.DataFrame, tmp_path: Path) -> None:
    from ml_model.artifact import load_model
    from tests.conftest import free_port as port

    settings = load_settings(
        model_endpoint_url=f"http://127.0.0.1:{port()}", model_dir=tmp_path, model_retries=0
    )
    client = ScoringClient.from_settings(settings, sleep=lambda _s: None)
    with pytest.raises(ScoringUnavailable, match="no local model"):
        client.score(batch.head(3))
    assert load_model is not None


def test_breaker_unit() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_seconds=10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.record_failure()
    assert not breaker.allow()
    clock.now = 10
    assert breaker.allow()  # the one trial
    assert not breaker.allow()  # only one at a time
    breaker.record_failure()
    assert breaker.state == "open" and breaker.opened_count == 2
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)


@pytest.mark.integration
def test_unreadable_endpoint_answers_fall_back(
    local_stack: Any, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    """The emulator's sagemaker-runtime answers a placeholder body, not scores: a misconfigured
    endpoint must not stop scoring."""
    from fraudstream import aws

    runtime = aws.client("sagemaker-runtime", local_stack, max_attempts=1)
    client = ScoringClient(runtime, "not-a-model-server", fallback=bundle, reasons="none")
    scored = client.score(batch.head(7))
    assert set(scored.scored_by) == {"fallback"}
    assert "unreadable response" in scored.endpoint_errors[0]


def test_a_batchs_requests_wait_on_the_endpoint_together(
    server: Server, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    """Four parts of one batch are in the server at once, and come back in row order."""
    server.faults.stall_seconds = 0.3
    client = make_client(server.url, bundle, max_rows_per_request=len(batch) // 4 + 1)
    scored = client.score(batch)
    assert server.faults.requests == 4
    assert server.faults.most_in_flight >= 2
    assert set(scored.scored_by) == {"endpoint"}
    assert np.array_equal(scored.scores, bundle.predict(to_matrix(batch)))
    client.close()


def test_one_request_at_a_time_stops_at_the_failure_that_opens_the_breaker(
    server: Server, bundle: ModelBundle, batch: pd.DataFrame
) -> None:
    rows = len(batch) // 4 + 1
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=30, clock=Clock())
    client = make_client(
        server.url,
        bundle,
        retries=0,
        breaker=breaker,
        max_rows_per_request=rows,
        concurrent_requests=1,
        reasons="none",
    )
    server.faults.stall_seconds = 0.05
    server.faults.fail_next = 1
    scored = client.score(batch)
    assert server.faults.requests == 1 and server.faults.most_in_flight == 1
    assert set(scored.scored_by) == {"fallback"}  # the rest held back by the open breaker
    assert np.array_equal(scored.scores, bundle.predict(to_matrix(batch)))
    # Together, the parts went out before the failure was known: only the failed one falls back.
    together = make_client(
        server.url,
        bundle,
        retries=0,
        breaker=CircuitBreaker(failure_threshold=1, reset_seconds=30, clock=Clock()),
        max_rows_per_request=rows,
        reasons="none",
    )
    server.faults.fail_next = 1
    scored = together.score(batch)
    assert server.faults.requests == 1 + 4
    fell_back = np.flatnonzero(scored.scored_by == "fallback")
    assert len(fell_back) in (rows, len(batch) - 3 * rows)  # one part, whichever failed
    assert fell_back[0] % rows == 0 and np.all(np.diff(fell_back) == 1)
    assert np.array_equal(scored.scores, bundle.predict(to_matrix(batch)))
    together.close()
