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
        ("FRAUDSTREAM_CRASH_AT", "after the lake", "crash_at"),
        ("FRAUDSTREAM_STATE_SNAPSHOT_EVERY", "0", "state_snapshot_every"),
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


def test_dev_token_key_refused_against_real_aws() -> None:
    with pytest.raises(SettingsError, match="card_token_key"):
        check_production_safety(load_settings())
    check_production_safety(load_settings(endpoint_url="http://127.0.0.1:4566"))
    check_production_safety(load_settings(card_token_key="a-real-secret"))
    assert load_settings().card_token_key.get_secret_value() == DEV_TOKEN_KEY
    assert DEV_TOKEN_KEY not in repr(load_settings())


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
        card_token_key="another-key",
        metrics_port=0,
    )
    env = to_environment(original)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4999"
    assert "FRAUDSTREAM_MODEL_ENDPOINT_URL" not in env  # unset stays unset
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings() == original
