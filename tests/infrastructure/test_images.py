"""Dockerfiles: hadolint, pinned non-root images, and a broken instruction that hadolint catches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.infrastructure.conftest import DOCKER, REPO, output_of, run, tool

pytestmark = pytest.mark.infra

DOCKERFILES = sorted(DOCKER.glob("*/Dockerfile"))


def hadolint(path: Path) -> list[str]:
    return [tool("hadolint"), "--config", str(REPO / ".hadolint.yaml"), "--no-color", str(path)]


def test_there_is_an_image_per_service() -> None:
    assert {p.parent.name for p in DOCKERFILES} == {"processor", "producer", "model-server"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint(dockerfile: Path) -> None:
    result = run(hadolint(dockerfile))
    assert result.returncode == 0, output_of(result)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_pinned_bases_and_a_non_root_final_user(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    for image in re.findall(r"^FROM\s+(\S+)", text, re.M):
        _, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{image}: pin an exact version"
        assert re.search(r"\d+\.\d+", tag), f"{image}: pin an exact version, not a floating tag"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), "the final stage must run as a non-root user"
    assert int(users[-1]) >= 10000


def test_processor_image_carries_spark_python_and_s3a() -> None:
    text = (DOCKER / "processor" / "Dockerfile").read_text()
    assert "apache/spark:4.3.0-" in text
    assert "python:3.11" in text
    assert "hadoop-aws" in (DOCKER / "processor" / "pom.xml").read_text()
    jars = (REPO / ".venv").glob("lib/python*/site-packages/pyspark/jars/hadoop-client-api-*.jar")
    for jar in jars:  # hadoop-aws must match the Hadoop that Spark ships
        version = jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
        assert (
            f"<hadoop.version>{version}</hadoop.version>"
            in (DOCKER / "processor" / "pom.xml").read_text()
        )


def test_model_server_follows_the_sagemaker_contract() -> None:
    text = (DOCKER / "model-server" / "Dockerfile").read_text()
    entry = (DOCKER / "model-server" / "entrypoint.sh").read_text()
    assert "EXPOSE 8080" in text and 'CMD ["serve"]' in text
    assert "/opt/ml/model" in entry and "fraudstream serve-model" in entry


def test_a_bad_instruction_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = (DOCKER / "producer" / "Dockerfile").read_text()
    broken.write_text(text.replace("WORKDIR /home/fraudstream", "WORKDIR home/fraudstream", 1))
    result = run(hadolint(broken))
    assert result.returncode != 0
    assert "DL3000" in result.stdout  # WORKDIR must be absolute


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def third_party_images() -> list[str]:
    """Every image the Dockerfiles build from and docker-compose runs (not our own builds)."""
    images = []
    for dockerfile in DOCKERFILES:
        images += re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), re.M)
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    images += [s["image"] for s in compose["services"].values() if "image" in s]
    return images


def test_images_are_pinned_by_digest_or_listed_as_tag_only() -> None:
    """A tag can be moved to other content; a digest cannot. Where no digest could be
    verified, docs/security.md says so, and the image is pinned by exact tag."""
    security = (REPO / "docs" / "security.md").read_text()
    tag_only = security.split("## Base images pinned by tag only")[1].split("\n## ")[0]
    for image in third_party_images():
        if DIGEST.search(image):
            assert f"`{image.partition('@')[0]}`" in security, f"{image}: list its digest source"
        else:
            assert f"`{image}`" in tag_only, f"{image}: pin a verified digest or document it"
