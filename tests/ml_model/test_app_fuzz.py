"""Fuzzing the model server's app in-process (the real app and model, no sockets): whatever a
client sends, the answer is a 4xx or a score for every row it sent; never a 5xx."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_model.artifact import ModelBundle
from ml_model.features import FEATURE_NAMES
from ml_model.serving import codec
from ml_model.serving.app import create_app
from tests.ml_model.test_codec import reference_csv

WIDTH = len(FEATURE_NAMES)
PATHS = ["/invocations", "/endpoints/fuzz/invocations"]
TYPES = ["text/csv", "application/json", "text/csv; charset=utf-8", "", "application/x-npy"]


@pytest.fixture(scope="module")
def client(model_dir: Path) -> FlaskClient:
    return create_app(model_dir, endpoint_name="fuzz").test_client()


number = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**45), 10**45).map(str),
    st.sampled_from(["", "inf", "nan", "-0", "1e39", "1" * 400, "true", "1_0", " 2 "]),
)
csv_rows = st.one_of(
    st.lists(number, min_size=WIDTH, max_size=WIDTH),  # the right width, mostly
    st.lists(number, min_size=WIDTH, max_size=WIDTH),
    st.lists(number, min_size=WIDTH - 1, max_size=WIDTH + 1),
).map(",".join)
csv_bodies = st.lists(csv_rows, min_size=1, max_size=4).map(lambda rows: "\n".join(rows).encode())
json_bodies = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers(-(10**400), 10**400)
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=WIDTH + 1)
        | st.dictionaries(st.sampled_from(["instances", "features", *FEATURE_NAMES[:3]]), inner)
    ),
    max_leaves=40,
).map(lambda value: json.dumps(value).encode())
bodies = st.one_of(csv_bodies, json_bodies, st.binary(max_size=300))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, path=st.sampled_from(PATHS), kind=st.sampled_from(TYPES))
def test_no_input_gets_a_5xx_or_a_short_answer(
    client: FlaskClient, bundle: ModelBundle, body: bytes, path: str, kind: str
) -> None:
    answer = client.post(path, data=body, headers={"Content-Type": kind, "Accept": "text/csv"})
    assert answer.status_code < 500, (answer.status_code, answer.data[:300])
    if answer.status_code == 200:
        scores, _ = codec.decode_scores(answer.data, "text/csv")
        if codec.media_type(kind) in ("text/csv", ""):  # an oracle apart from the codec
            expected = reference_csv(body.decode())
            assert expected is not None, f"scored a body it must refuse: {body[:200]!r}"
            assert np.array_equal(scores, bundle.predict(expected))  # every row, as sent
        else:
            assert len(scores) >= 1 and np.isfinite(scores).all()


def test_specific_regressions_are_4xx(client: FlaskClient) -> None:
    """The inputs of the security review: a 500 page or a score before."""
    huge = ",".join(["1" * 400] * WIDTH).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    inf = ",".join(["inf"] * WIDTH).encode()
    true = ("[[" + ",".join(["true"] * WIDTH) + "]]").encode()
    for body, kind in [
        (huge, "text/csv"),
        (deep, "application/json"),
        (inf, "text/csv"),
        (true, "application/json"),
    ]:
        answer = client.post("/invocations", data=body, headers={"Content-Type": kind})
        assert 400 <= answer.status_code < 500, (kind, answer.status_code, answer.data[:200])


class _Stalled(io.RawIOBase):
    """A request body that stops arriving: the socket's read timeout fires (server.py)."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise TimeoutError("timed out")


def test_short_and_stalled_bodies_are_4xx(client: FlaskClient) -> None:
    short = client.post(
        "/invocations",
        headers={"Content-Type": "text/csv"},
        environ_overrides={"wsgi.input": io.BytesIO(b"1,2"), "CONTENT_LENGTH": "100"},
    )
    assert short.status_code == 400 and b"ended after" in short.data
    stalled = client.post(
        "/endpoints/fuzz/invocations",
        headers={"Content-Type": "text/csv"},
        environ_overrides={"wsgi.input": _Stalled(), "wsgi.input_terminated": True},
    )
    assert stalled.status_code == 408 and stalled.headers["x-amzn-ErrorType"] == "ValidationError"
