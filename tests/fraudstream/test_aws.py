"""The client factory: endpoints, credentials and retry budget, against the real emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fraudstream import aws
from fraudstream.settings import Settings, load_settings
from fraudstream.stack.faults import Fault


def test_endpoint_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(endpoint_url="http://127.0.0.1:4566")
    assert aws.endpoint_for("kinesis", settings) == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:9999")
    assert aws.endpoint_for("kinesis", settings) == "http://127.0.0.1:9999"
    assert aws.endpoint_for("s3", settings) == "http://127.0.0.1:4566"
    assert aws.endpoint_for("s3", load_settings()) is None


def test_local_endpoint_gets_dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = aws.session(load_settings(endpoint_url="http://localhost:4566"))
    assert session.get_credentials().access_key == "testing"  # type: ignore[union-attr]
    assert session.region_name == "us-east-1"
    with pytest.raises(ValueError, match="at least 1"):
        aws.client("s3", load_settings(), max_attempts=0)


def test_validate_false_leaves_the_parameter_check_to_the_service() -> None:
    from botocore.exceptions import EndpointConnectionError, ParamValidationError

    from fraudstream.demo.processes import free_port

    settings = load_settings(endpoint_url=f"http://127.0.0.1:{free_port()}")  # nothing listens
    bad = {"RequestItems": {"t": [{"PutRequest": {"Item": {"k": {"S": 7}}}}]}}
    with pytest.raises(ParamValidationError):
        aws.client("dynamodb", settings, max_attempts=1).batch_write_item(**bad)
    unchecked = aws.client("dynamodb", settings, max_attempts=1, validate=False)
    with pytest.raises(EndpointConnectionError):  # sent as it is: the service would refuse it
        unchecked.batch_write_item(**bad)


@pytest.mark.integration
@pytest.mark.parametrize("attempts", [1, 3])
def test_max_attempts_counts_every_attempt(
    fresh_streams: Settings, faults: Callable[..., dict[str, Any]], attempts: int
) -> None:
    faults(Fault("PutRecords"))
    kinesis = aws.client("kinesis", fresh_streams, max_attempts=attempts)
    with pytest.raises(ClientError):
        kinesis.put_records(
            StreamName=fresh_streams.stream_name, Records=[{"Data": b"x", "PartitionKey": "k"}]
        )
    assert faults.status()["injected"]["PutRecords:error"] == attempts  # type: ignore[attr-defined]


def test_s3_locations_are_split_and_local_paths_are_not() -> None:
    assert aws.s3_location("s3a://bucket/checkpoints/processor/") == (
        "bucket",
        "checkpoints/processor",
    )
    assert aws.s3_location("s3://bucket") == ("bucket", "")
    assert aws.s3_location("/var/lib/fraudstream/checkpoints") is None
    assert aws.s3_location("file:/tmp/checkpoints") is None
