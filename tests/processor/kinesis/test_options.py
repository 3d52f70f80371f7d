"""Option parsing: strings in, a typed object or a ValueError naming the option out."""

from __future__ import annotations

import pytest

from processor.kinesis.errors import InvalidOptionError
from processor.kinesis.options import parse_options, parse_timestamp_ms


def test_defaults_need_only_a_stream_name() -> None:
    options = parse_options({"streamName": "tx"})
    assert options.stream_name == "tx"
    assert options.starting_position == "LATEST"
    assert options.max_records_per_trigger is None
    assert options.fail_on_data_loss is True
    assert options.data_type == "binary"
    assert options.prefetch is True


def test_keys_are_case_insensitive_as_spark_passes_them_lower_cased() -> None:
    options = parse_options(
        {
            "streamname": "tx",
            "STARTINGPOSITION": "trim_horizon",
            "maxrecordspertrigger": "500",
            "failondataloss": "FALSE",
            "endpointurl": "http://127.0.0.1:4566/",
            "region": "eu-west-1",
            "datatype": "STRING",
        }
    )
    assert options.starting_position == "TRIM_HORIZON"
    assert options.max_records_per_trigger == 500
    assert options.fail_on_data_loss is False
    assert options.endpoint_url == "http://127.0.0.1:4566"
    assert options.region == "eu-west-1"
    assert options.data_type == "string"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00Z", 1714564800000),
        ("2024-05-01T14:00:00.250+02:00", 1714564800250),
        ("1714564800000", 1714564800000),
    ],
)
def test_starting_timestamp_forms(value: str, expected: int) -> None:
    options = parse_options(
        {"streamName": "tx", "startingPosition": "AT_TIMESTAMP", "startingTimestamp": value}
    )
    assert options.starting_timestamp_ms == expected
    assert parse_timestamp_ms(value) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "streamName is required"),
        ({"streamName": "bad name!"}, "streamName must be"),
        ({"streamName": "tx", "startingPosition": "EARLIEST"}, "startingPosition must be one of"),
        (
            {"streamName": "tx", "startingPosition": "AT_TIMESTAMP"},
            "needs option startingTimestamp",
        ),
        (
            {"streamName": "tx", "startingPosition": "AT_TIMESTAMP", "startingTimestamp": "noon"},
            "startingTimestamp must be epoch milliseconds",
        ),
        (
            {
                "streamName": "tx",
                "startingPosition": "AT_TIMESTAMP",
                "startingTimestamp": "2024-05-01T12:00:00",
            },
            "time zone",
        ),
        ({"streamName": "tx", "startingTimestamp": "1"}, "only applies to startingPosition"),
        ({"streamName": "tx", "maxRecordsPerTrigger": "0"}, "maxRecordsPerTrigger must be >= 1"),
        ({"streamName": "tx", "maxRecordsPerTrigger": "lots"}, "must be an integer"),
        ({"streamName": "tx", "failOnDataLoss": "maybe"}, "failOnDataLoss must be true or false"),
        ({"streamName": "tx", "endpointUrl": "localhost:4566"}, "endpointUrl must be an http"),
        ({"streamName": "tx", "region": "mars"}, "region must look like"),
        ({"streamName": "tx", "dataType": "json"}, "dataType must be binary or string"),
        ({"streamName": "tx", "maxRecordsPerFetch": "10001"}, "between 1 and 10000"),
        ({"streamName": "tx", "startingPositon": "LATEST"}, "unknown option(s) startingpositon"),
    ],
)
def test_bad_options_fail_with_a_value_error_naming_the_option(
    options: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        parse_options(options)
    assert isinstance(info.value, InvalidOptionError)


def test_options_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudstream.settings import load_settings
    from processor.kinesis.options import options_from_settings

    settings = load_settings(
        stream_name="tx", region="eu-west-1", max_records_per_trigger=5000, endpoint_url=None
    )
    assert options_from_settings(settings, startingPosition="TRIM_HORIZON") == {
        "streamName": "tx",
        "region": "eu-west-1",
        "maxRecordsPerTrigger": "5000",
        "maxBytesPerTrigger": str(64 * 2**20),  # the default
        "startingPosition": "TRIM_HORIZON",
        "idleTimeBetweenReadsMs": "200",  # settings.kinesis_poll_ms
    }
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:9999")
    assert options_from_settings(settings)["endpointUrl"] == "http://127.0.0.1:9999"
    with pytest.raises(ValueError, match="startingPosition"):
        options_from_settings(settings, startingPosition="EARLIEST")
