"""Every FRAUDSTREAM_* variable the deployment files set is a real setting.

Settings reject unknown keys in a settings file, but an unknown environment variable is silently
ignored, so a typo in a manifest would quietly fall back to a default. These files are checked
instead: the Kubernetes ConfigMap and pod templates, docker-compose.yml, and Terraform's
envs/local `settings_env` output.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices

from fraudstream.settings import ENV_PREFIX, Settings, load_settings
from tests.infrastructure.conftest import KUBERNETES, REPO, TERRAFORM

pytestmark = pytest.mark.infra

NAME = re.compile(r"\b(FRAUDSTREAM_[A-Z0-9_]+)\b")
NOT_SETTINGS = {"FRAUDSTREAM_SETTINGS_FILE"}  # the settings file's own path, read by the CLI


def known_variables() -> set[str]:
    names = set(NOT_SETTINGS)
    for field, info in Settings.model_fields.items():
        names.add(ENV_PREFIX + field.upper())
        if isinstance(info.validation_alias, AliasChoices):
            names |= {str(c).upper() for c in info.validation_alias.choices}
    return names


def deployment_files() -> list[Path]:
    return [
        *KUBERNETES.glob("*.yaml"),
        *(KUBERNETES / "spark").glob("*.yaml"),
        REPO / "docker-compose.yml",
        TERRAFORM / "envs" / "local" / "outputs.tf",
        *(REPO / "infrastructure" / "docker").rglob("Dockerfile"),
        *(REPO / "infrastructure" / "docker").rglob("*.sh"),
    ]


def test_every_fraudstream_variable_is_a_setting() -> None:
    known = known_variables()
    seen = set()
    for path in deployment_files():
        for name in NAME.findall(path.read_text()):
            assert name in known, f"{path.relative_to(REPO)}: {name} is not a setting"
            seen.add(name)
    assert "FRAUDSTREAM_CHECKPOINT_LOCATION" in seen and "FRAUDSTREAM_STREAM_NAME" in seen


def test_compose_builds_the_repository_images() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if "build" in service:
            assert (REPO / service["build"]["dockerfile"]).is_file(), name
        else:
            tag = service["image"].partition("@")[0].rpartition(":")[2]
            assert re.search(r"\d+\.\d+", tag), f"{name}: pin the image version"


def test_compose_processor_serves_metrics_to_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prometheus scrapes processor:9108 from its own container, so loopback will not do."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    processor = compose["services"]["processor"]
    for name in [n for n in os.environ if n.startswith(("FRAUDSTREAM_", "AWS_"))]:
        monkeypatch.delenv(name)
    for name, value in processor["environment"].items():
        monkeypatch.setenv(name, str(value))
    settings = load_settings()
    assert ipaddress.ip_address(settings.metrics_host).is_unspecified
    assert f"127.0.0.1:{settings.metrics_port}:{settings.metrics_port}" in processor["ports"]
    scrape = (REPO / "infrastructure" / "monitoring" / "prometheus-local.yaml").read_text()
    assert f"processor:{settings.metrics_port}" in scrape
