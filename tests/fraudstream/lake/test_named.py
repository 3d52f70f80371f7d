"""The shipped named queries: found as package data, described, and looked up by name."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest

from fraudstream.lake import named
from fraudstream.lake.errors import UnknownNamedQueryError


def test_the_shipped_queries_are_package_data_with_descriptions() -> None:
    queries = named.named_queries()
    assert list(queries) == ["card_timeline", "fraud_rate_by_hour", "top_merchants_by_alerts"]
    folder = resources.files("fraudstream.lake").joinpath("queries")
    for name, query in queries.items():
        assert query.sql == folder.joinpath(f"{name}.sql").read_text(encoding="utf-8")
        assert query.description and not query.description.startswith("--")
    assert "parameter: card_id" in queries["card_timeline"].description


def test_parse_takes_the_first_comment_line_as_description() -> None:
    query = named.parse("q", "-- Counts things.\n-- More detail.\nSELECT 1\n")
    assert query.description == "Counts things."
    assert named.parse("q", "SELECT 1").description == ""
    assert named.parse("q", "").description == ""


def test_an_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(
        UnknownNamedQueryError, match="no named query 'nope'; shipped: card_timeline"
    ):
        named.named_query("nope")


def test_the_queries_ship_in_the_wheel_as_package_data() -> None:
    """Terraform and the installed CLI read the same folder; a wheel must carry it."""
    repo = Path(__file__).resolve().parents[3]
    setuptools = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "*.sql" in setuptools["package-data"]["*"]
    assert any(
        fnmatch("fraudstream.lake.queries", p) for p in setuptools["packages"]["find"]["include"]
    )
    for env in ("aws", "local"):
        main = (repo / "infrastructure" / "terraform" / "envs" / env / "main.tf").read_text()
        assert 'queries_dir = "${local.repo_root}/fraudstream/lake/queries"' in " ".join(
            main.split()
        )
