"""The model server over real HTTP: SageMaker's container contract and runtime API path."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ml_model.artifact import ModelBundle
from ml_model.features import FEATURE_NAMES
from ml_model.serving import codec
from ml_model.serving.server import RunningServer
from ml_model.testing import synthetic_history

pytestmark = pytest.mark.integration
ENDPOINT = "fraudstream-test"


def runtime_client(url: str) -> object:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[RunningServer]:
    with RunningServer(model_dir, endpoint_name=ENDPOINT) as running:
        yield running


@pytest.fixture(scope="module")
def rows(bundle: ModelBundle) -> np.ndarray:
    from ml_model.features import FeatureConfig, build

    frame = synthetic_history(cards=30, days=8.0, seed=9)
    return build(frame, frame, FeatureConfig())[:500]


def post(
    url: str, body: bytes, content_type: str, accept: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", content_type)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_ping(server: RunningServer) -> None:
    with urllib.request.urlopen(server.url + "/ping", timeout=10) as response:
        assert response.status == 200


def test_boto3_csv_batch(server: RunningServer, rows: np.ndarray, bundle: ModelBundle) -> None:
    client = runtime_client(server.url)
    body = b"\n".join(codec.encode_csv_rows(rows))
    answer = client.invoke_endpoint(  # type: ignore[attr-defined]
        EndpointName=ENDPOINT, ContentType="text/csv", Accept="text/csv", Body=body
    )
    scores, _ = codec.decode_scores(answer["Body"].read(), answer["ContentType"])
    assert len(scores) == len(rows) == 500
    assert np.array_equal(scores, bundle.predict(rows))  # exactly the in-process scores
    assert answer["CustomAttributes"] == f"model_version={bundle.version}"


def test_boto3_json_instances(server: RunningServer, rows: np.ndarray, bundle: ModelBundle) -> None:
    client = runtime_client(server.url)
    named = [dict(zip(FEATURE_NAMES, row, strict=True)) for row in rows[:3].tolist()]
    body = json.dumps({"instances": [rows[0].tolist(), {"features": rows[1].tolist()}, named[2]]})
    answer = client.invoke_endpoint(  # type: ignore[attr-defined]
        EndpointName=ENDPOINT, ContentType="application/json", Body=body
    )
    data = json.loads(answer["Body"].read())
    assert answer["ContentType"].startswith("application/json")
    assert data["model_version"] == bundle.version
    got = [p["score"] for p in data["predictions"]]
    assert np.allclose(got, bundle.predict(rows[:3]))


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"1,2,three", "text/csv", 400),  # wrong count is checked before parsing numbers
        (b"\xff\xfe", "text/csv", 415),
        (b"{not json", "application/json", 415),
        (b"a,b", "application/x-recordio-protobuf", 415),
        (json.dumps({"instances": [[1.0, 2.0]]}).encode(), "application/json", 400),
    ],
)
def test_one_status_per_failing_stage(
    server: RunningServer, body: bytes, content_type: str, status: int
) -> None:
    code, text, _ = post(server.url + "/invocations", body, content_type)
    assert code == status, text


def test_unparsable_numbers_are_415_and_missing_values_allowed(server: RunningServer) -> None:
    width = len(FEATURE_NAMES)
    bad = ",".join(["x"] * width).encode()
    assert post(server.url + "/invocations", bad, "text/csv")[0] == 415
    gaps = ",".join([""] * width).encode()
    code, text, _ = post(server.url + "/invocations", gaps, "text/csv", "application/json")
    assert code == 200
    assert len(json.loads(text)["predictions"]) == 1


def test_runtime_errors_reach_boto3_with_codes(server: RunningServer) -> None:
    client = runtime_client(server.url)
    with pytest.raises(ClientError) as wrong_count:
        client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1,2")  # type: ignore[attr-defined]
    assert wrong_count.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert wrong_count.value.response["Error"]["Code"] == "ModelError"
    with pytest.raises(ClientError) as unknown:
        client.invoke_endpoint(EndpointName="other", ContentType="text/csv", Body=b"1")  # type: ignore[attr-defined]
    assert unknown.value.response["Error"]["Code"] == "ValidationError"


def test_no_model_is_503(tmp_path: Path) -> None:
    with RunningServer(tmp_path, endpoint_name=ENDPOINT) as empty:
        code, _, _ = post(empty.url + "/invocations", b"1", "text/csv")
        assert code == 503
        with pytest.raises(ClientError) as error:
            runtime_client(empty.url).invoke_endpoint(  # type: ignore[attr-defined]
                EndpointName=ENDPOINT, ContentType="text/csv", Body=b"1"
            )
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        with pytest.raises(urllib.error.HTTPError) as ping:
            urllib.request.urlopen(empty.url + "/ping", timeout=10)
        assert ping.value.code == 503


def test_payload_over_6_mb_is_413(server: RunningServer) -> None:
    code, _, _ = post(server.url + "/invocations", b"0" * (6 * 1024 * 1024 + 10), "text/csv")
    assert code == 413


def test_manifest_route(server: RunningServer, bundle: ModelBundle) -> None:
    with urllib.request.urlopen(server.url + "/manifest", timeout=10) as response:
        assert json.loads(response.read())["version"] == bundle.version


def post_chunked(url: str, body: bytes, content_type: str = "text/csv") -> tuple[int, bytes]:
    """POST with ``Transfer-Encoding: chunked`` (no Content-Length), 64 KiB a chunk."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.request(
            "POST",
            parsed.path,
            body=(body[i : i + 65536] for i in range(0, len(body), 65536)),
            headers={"Content-Type": content_type},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_413_never_a_shorter_batch(server: RunningServer) -> None:
    """The defect: a chunked request over 6 MiB was cut at the limit and answered 200 with
    fewer scores than rows, the last row corrupted (900 scored as 9)."""
    row = ",".join(["900"] * len(FEATURE_NAMES)).encode()
    rows = 6 * 1024 * 1024 // (len(row) + 1) + 10
    code, text = post_chunked(server.url + "/invocations", b"\n".join([row] * rows))
    assert code == 413, text


def test_a_chunked_body_within_the_limit_is_scored_whole(
    server: RunningServer, rows: np.ndarray, bundle: ModelBundle
) -> None:
    body = b"\n".join(codec.encode_csv_rows(rows))
    code, text = post_chunked(server.url + "/invocations", body)
    assert code == 200, text
    scores, _ = codec.decode_scores(text, "text/csv")
    assert np.array_equal(scores, bundle.predict(rows))
