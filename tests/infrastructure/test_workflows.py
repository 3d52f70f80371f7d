"""GitHub Actions: actionlint, pinned actions, least-privilege permissions, concurrency, and a
broken expression that actionlint catches."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infrastructure.conftest import TOOLS_BIN, WORKFLOWS, output_of, run, tool

pytestmark = pytest.mark.infra

FILES = sorted(WORKFLOWS.glob("*.yml"))


def actionlint(*paths: Path) -> list[str]:
    return [tool("actionlint"), "-no-color", *map(str, paths)]


def with_shellcheck() -> dict[str, str]:
    """actionlint checks `run:` scripts with shellcheck when it is on PATH (.venv-tools has it)."""
    return {"PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def test_actionlint() -> None:
    assert {p.name for p in FILES} == {"ci.yml", "cd.yml"}
    result = run(actionlint(*FILES), env=with_shellcheck())
    assert result.returncode == 0, output_of(result)


def test_a_broken_expression_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    text = (WORKFLOWS / "ci.yml").read_text()
    assert "${{ github.event.pull_request.number || github.ref }}" in text
    broken.write_text(
        text.replace(
            "${{ github.event.pull_request.number || github.ref }}",
            "${{ github.event.pull_request.number || }}",
        )
    )
    result = run(actionlint(broken), env=with_shellcheck())
    assert result.returncode != 0
    assert "expression" in result.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_commit_shas(path: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)", path.read_text())
    assert uses
    for ref in uses:
        if ref.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{ref}: pin by commit SHA"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_and_concurrency(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    assert "group" in workflow["concurrency"]
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        assert set(granted) <= {"contents", "id-token"}, f"{name}: {granted}"
        assert granted.get("contents", "read") == "read", name
        assert "timeout-minutes" in job, f"{name}: set a timeout"


def test_cd_deploys_only_after_approval_with_oidc() -> None:
    jobs = load(WORKFLOWS / "cd.yml")["jobs"]
    for name in ("apply", "model", "rollout"):
        assert jobs[name]["environment"] == "production", name
    for name, job in jobs.items():
        if job.get("permissions", {}).get("id-token") == "write":
            steps = " ".join(str(s.get("uses", "")) for s in job["steps"])
            assert "aws-actions/configure-aws-credentials@" in steps, name
    text = (WORKFLOWS / "cd.yml").read_text()
    assert "aws-access-key-id" not in text and "secrets.AWS" not in text
    apply_steps = " ".join(str(s.get("run", "")) for s in jobs["apply"]["steps"])
    assert "apply -lock-timeout=5m tfplan" in apply_steps  # exactly the reviewed plan
    assert load(WORKFLOWS / "cd.yml")["concurrency"]["cancel-in-progress"] is False


def test_cd_rolls_the_model_out_through_the_cli() -> None:
    """One way to deploy a model: the job installs the package from the hashed lock and runs
    `fraudstream model deploy` (no separate script to drift from it)."""
    steps = [str(s.get("run", "")) for s in load(WORKFLOWS / "cd.yml")["jobs"]["model"]["steps"]]
    install = next(i for i, run in enumerate(steps) if "--require-hashes" in run)
    deploy = next(i for i, run in enumerate(steps) if "fraudstream model deploy" in run)
    assert install < deploy
    assert "--model-data-url" in steps[deploy] and "--wait" in steps[deploy]
