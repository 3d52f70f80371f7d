from pathlib import Path

import pytest

from fraudstream.errors import SettingsError
from fraudstream.settings import (
    DEV_TOKEN_KEY,
    check_production_safety,
    load_settings,
    to_environment,
)


def test_defaults_match_the_architecture() -> None:
    settings = load_settings()
    assert settings.stream_name == "transactions"
    assert settings.stream_shards == 4
    assert settings.labels_stream_name == "transaction-labels"
    assert settings.bucket == "fraudstream-lake"
    assert settings.alerts_table == "fraud-alerts"
    assert settings.region == "us-east-1"
    assert settings.endpoint_url is None
    assert not settings.is_local


def test_environment_with_prefix_and_standard_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_STREAM_NAME", "tx-live")
    monkeypatch.setenv("FRAUDSTREAM_STREAM_SHARDS", "8")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566/")
    settings = load_settings()
    assert settings.stream_name == "tx-live"
    assert settings.stream_shards == 8
    assert settings.endpoint_url == "http://localhost:4566"
    assert settings.is_local


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("FRAUDSTREAM_STREAM_SHARDS", "0", "stream_shards"),
        ("FRAUDSTREAM_STREAM_SHARDS", "many", "stream_shards"),
        ("FRAUDSTREAM_BUCKET", "Not_A_Bucket", "bucket"),
        ("AWS_ENDPOINT_URL", "localhost:4566", "endpoint_url"),
        ("FRAUDSTREAM_LOG_LEVEL", "LOUD", "log_level"),
    ],
)
def test_invalid_values_name_the_field(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=rf"invalid setting {field} \[FRAUDSTREAM_"):
        load_settings()


def test_settings_file_and_its_typos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.env"
    good.write_text("FRAUDSTREAM_BUCKET=my-lake\nFRAUDSTREAM_ALERTS_TABLE=alerts-x\n")
    assert load_settings(good).bucket == "my-lake"
    monkeypatch.setenv("FRAUDSTREAM_BUCKET", "env-wins")
    assert load_settings(good).bucket == "env-wins"

    typo = tmp_path / "typo.env"
    typo.write_text("FRAUDSTREAM_BUKET=oops\n")
    with pytest.raises(SettingsError, match="unknown setting FRAUDSTREAM_BUKET"):
        load_settings(typo)
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(tmp_path / "missing.env")


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.bucket = "other"  # type: ignore[misc]


def test_checkpoint_defaults_under_state_dir(tmp_path: Path) -> None:
    assert load_settings(state_dir=tmp_path).checkpoint_dir == str(
        tmp_path / "checkpoints" / "processor"
    )
    assert load_settings(checkpoint_location="s3a://b/cp").checkpoint_dir == "s3a://b/cp"


def test_durations_in_milliseconds() -> None:
    assert load_settings(watermark="2 hours").watermark_ms == 7_200_000
    assert load_settings(watermark="90 seconds").watermark_ms == 90_000


REAL_KEY = "0123456789abcdef0123456789abcdef"  # 32 bytes


def test_dev_token_key_refused_against_real_aws() -> None:
    with pytest.raises(SettingsError, match="card_token_key"):
        check_production_safety(load_settings())
    check_production_safety(load_settings(endpoint_url="http://127.0.0.1:4566"))
    check_production_safety(load_settings(card_token_key=REAL_KEY))
    assert load_settings().card_token_key.get_secret_value() == DEV_TOKEN_KEY
    assert DEV_TOKEN_KEY not in repr(load_settings())


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://kinesis.us-east-1.amazonaws.com",
        "https://vpce-0a1b2c3d4e5f-abcdefgh.kinesis.us-east-1.vpce.amazonaws.com",
        "http://10.0.3.17:4566",
        "http://172.17.0.2:4566",
        "http://192.168.1.20:4566",
        "http://[fd12:3456::1]:4566",
        "http://localstack:4566",  # a compose service name: not this machine
        "http://localhost.example.com:4566",
        "http://127.0.0.1.example.com:4566",
        "http://127.0.0.1@evil.example:4566",
        "http://0.0.0.0:4566",
    ],
)
def test_dev_token_key_refused_for_any_endpoint_but_loopback(endpoint: str) -> None:
    """The defect: the development key was refused only when no endpoint was set."""
    settings = load_settings(endpoint_url=endpoint)
    assert not settings.is_local
    with pytest.raises(SettingsError, match="card_token_key") as refused:
        check_production_safety(settings)
    assert DEV_TOKEN_KEY not in str(refused.value)
    check_production_safety(load_settings(endpoint_url=endpoint, card_token_key=REAL_KEY))


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:4566", "http://localhost:4566", "http://[::1]:4566", "http://127.0.0.2:80"],
)
def test_dev_token_key_allowed_with_the_emulator_on_loopback(endpoint: str) -> None:
    settings = load_settings(endpoint_url=endpoint)
    assert settings.is_local
    check_production_safety(settings)


def test_a_per_service_endpoint_to_real_aws_is_not_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 and fraudstream.aws honour AWS_ENDPOINT_URL_KINESIS over AWS_ENDPOINT_URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "https://kinesis.eu-west-1.amazonaws.com")
    with pytest.raises(SettingsError, match="card_token_key"):
        check_production_safety(load_settings(endpoint_url="http://127.0.0.1:4566"))


@pytest.mark.parametrize("key", ["k", "short-key", "x" * 31, "\u00e9" * 15])
def test_card_token_keys_under_32_bytes_are_refused(key: str) -> None:
    with pytest.raises(SettingsError, match=r"card_token_key.*at least 32 bytes") as refused:
        load_settings(card_token_key=key)
    assert repr(key) not in str(refused.value) and "got" not in str(refused.value)  # no echo


def test_a_32_byte_card_token_key_is_accepted() -> None:
    assert load_settings(card_token_key="\u00e9" * 16).card_token_key.get_secret_value()
    assert load_settings(card_token_key=REAL_KEY).card_token_key.get_secret_value() == REAL_KEY


def test_settings_reference_is_up_to_date() -> None:
    from fraudstream.settings_doc import render

    doc = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
    assert doc.read_text() == render(), "run: python -m fraudstream.settings_doc > docs/settings.md"


def test_to_environment_round_trips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A child process given these variables loads the very same settings."""
    original = load_settings(
        endpoint_url="http://127.0.0.1:4999",
        stream_name="tx-abc",
        state_dir=tmp_path,
        watermark="2 hours",
        card_token_key="another-key-of-at-least-32-bytes!",
        metrics_port=0,
    )
    env = to_environment(original)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4999"
    assert "FRAUDSTREAM_MODEL_ENDPOINT_URL" not in env  # unset stays unset
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings() == original
