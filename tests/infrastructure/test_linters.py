"""checkov over everything, with every skip explained and documented; yamllint; shellcheck."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infrastructure.conftest import INFRA, REPO, WORKFLOWS, output_of, run, tool

pytestmark = pytest.mark.infra

# Inline skips: `#checkov:skip=ID:reason` (Terraform, workflows), `checkov.io/skipN: ID=reason`
# (Kubernetes annotations).
SKIP = re.compile(
    r"checkov:skip=(CKV2?_[A-Z0-9_]+):(.*)|checkov\.io/skip\d+:\s*(CKV2?_[A-Z0-9_]+)=(.*)"
)
SCANNED = ("*.tf", "*.yaml", "*.yml", "Dockerfile")


def inline_skips() -> list[tuple[Path, str, str]]:
    found = []
    for folder in (INFRA, WORKFLOWS):
        for pattern in SCANNED:
            for path in folder.rglob(pattern):
                if ".terraform" in path.parts:
                    continue
                for match in SKIP.finditer(path.read_text()):
                    check = match.group(1) or match.group(3)
                    reason = (match.group(2) or match.group(4) or "").strip()
                    found.append((path, check, reason))
    return found


def test_checkov_finds_nothing_unexplained() -> None:
    result = run(
        [tool("checkov"), "--config-file", ".checkov.yaml", "--output", "cli"], timeout=600
    )
    assert result.returncode == 0, output_of(result)
    assert "Failed checks: 0" in result.stdout
    assert not re.search(r"Failed checks: [1-9]", result.stdout)


def test_every_checkov_skip_has_a_reason_and_is_documented() -> None:
    skips = inline_skips()
    assert skips, "expected the documented skips to be found"
    deploy_doc = (REPO / "docs" / "deploy.md").read_text()
    for path, check, reason in skips:
        where = path.relative_to(REPO)
        assert len(reason) >= 20, f"{where}: skip of {check} needs a real reason"
        assert check in deploy_doc, f"{where}: {check} is skipped but not listed in docs/deploy.md"
    # and the document lists no skip that the code no longer has
    documented = set(re.findall(r"`(CKV2?_[A-Z0-9_]+)`", deploy_doc.split("## Checkov skips")[1]))
    assert documented == {check for _, check, _ in skips}


def test_yamllint() -> None:
    targets = [".github/workflows", "infrastructure", "docker-compose.yml", ".checkov.yaml"]
    result = run([tool("yamllint"), "--strict", *targets])
    assert result.returncode == 0, output_of(result)


def test_shell_scripts_pass_shellcheck() -> None:
    scripts = sorted(INFRA.rglob("*.sh"))
    assert len(scripts) >= 2  # the model server entrypoint and spark-submit.sh
    result = run([tool("shellcheck"), "--severity=style", *map(str, scripts)])
    assert result.returncode == 0, output_of(result)
