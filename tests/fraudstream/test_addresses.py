"""Where a URL points: local emulator endpoints and acceptable webhook URLs (pure, no DNS)."""

from __future__ import annotations

import pytest

from fraudstream.addresses import is_local_endpoint, is_loopback_host, webhook_url_problem
from fraudstream.errors import SettingsError
from fraudstream.settings import load_settings


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host", [None, "", "localhost.example", "0.0.0.0", "10.0.0.1", "::", "fd00::1", "localstack"]
)
def test_not_loopback_hosts(host: str | None) -> None:
    assert not is_loopback_host(host)


def test_local_endpoints_are_http_urls_on_loopback_only() -> None:
    assert is_local_endpoint("http://127.0.0.1:4566")
    assert is_local_endpoint("https://localhost")
    assert not is_local_endpoint(None)
    assert not is_local_endpoint("ftp://127.0.0.1")
    assert not is_local_endpoint("http://127.0.0.1:99999")  # not a port
    assert not is_local_endpoint("http://user@127.0.0.1:4566")
    assert not is_local_endpoint("http://127.0.0.1 .example:4566")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0/B0/XYZtoken",
        "https://relay.internal.example:8443/hook?token=XYZtoken",
        "https://10.20.30.40/hook",  # a relay inside the VPC is allowed
        "http://127.0.0.1:8080/hook",  # plain HTTP to loopback: tests and development
        "http://localhost/hook",
        "http://[::1]:9000/hook",
    ],
)
def test_acceptable_webhook_urls(url: str) -> None:
    assert webhook_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.slack.com/services/T0/B0/XYZtoken", "https"),
        ("http://10.0.0.5/XYZtoken", "https"),
        ("https://user:pass@hooks.slack.com/XYZtoken", "credentials"),
        ("https://token@hooks.slack.com/XYZtoken", "credentials"),
        ("https://169.254.169.254/latest/meta-data/XYZtoken", "metadata"),
        ("https://169.254.170.2/v2/credentials/XYZtoken", "metadata"),  # ECS task credentials
        ("https://[fe80::1]/XYZtoken", "metadata"),
        ("https://[fd00:ec2::254]/XYZtoken", "metadata"),
        ("https://[::ffff:169.254.169.254]/XYZtoken", "metadata"),
        ("https://100.100.100.200/XYZtoken", "metadata"),
        ("https://metadata.google.internal/XYZtoken", "metadata"),
        ("https://0.0.0.0/XYZtoken", "metadata"),
        ("https://224.0.0.1/XYZtoken", "metadata"),
        ("https://hooks.slack.com:99999/XYZtoken", "absolute"),
        ("https:///XYZtoken", "absolute"),
        ("file:///XYZtoken", "absolute"),
        ("hooks.slack.com/XYZtoken", "absolute"),
        ("https://hooks.slack.com/XYZtoken with-a-space", "absolute"),
        ("https://hooks.slack.com/XYZtoken\n", "absolute"),
        ("https://[fe80::1/XYZtoken", "absolute"),
    ],
)
def test_unsafe_webhook_urls_are_refused_without_quoting_them(url: str, reason: str) -> None:
    problem = webhook_url_problem(url)
    assert problem is not None and reason in problem
    assert "XYZtoken" not in problem


def test_settings_refuse_an_unsafe_webhook_url_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match="webhook_url") as refused:
        load_settings(webhook_url="http://hooks.slack.com/services/T0/B0/XYZtoken")
    assert "XYZtoken" not in str(refused.value) and "https" in str(refused.value)
    assert load_settings(webhook_url=" https://hooks.slack.com/x ").webhook_url is not None
