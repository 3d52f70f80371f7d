"""docs/security.md stays true to the code: every test its threat model cites exists."""

from __future__ import annotations

import re

import pytest

from tests.infrastructure.conftest import REPO

pytestmark = pytest.mark.infra

DOC = REPO / "docs" / "security.md"
CITED = re.compile(r"`((?:tests|infrastructure)/[\w./-]+)(?:::(\w+)[^`]*)?`")
SAME_FILE = re.compile(r"`::(test_\w+)`")


def threat_model() -> list[str]:
    table = DOC.read_text().split("## Threat model")[1].split("\n## ")[0]
    return [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_every_cited_test_exists() -> None:
    rows = threat_model()
    assert len(rows) >= 20
    for row in rows:
        evidence = row.rstrip(" |").rsplit(" | ", 1)[1]
        current = None
        cited = 0
        for match in re.finditer(f"{CITED.pattern}|{SAME_FILE.pattern}", evidence):
            path, name, sibling = match.group(1), match.group(2), match.group(3)
            if path:
                current = REPO / path
                assert current.exists(), f"{path} (cited in docs/security.md) does not exist"
                cited += 1
            name = name or sibling
            if name:
                assert current is not None and current.suffix == ".py", row
                assert f"def {name}(" in current.read_text(), f"{current}::{name} does not exist"
        assert cited, f"no test cited for: {row[:80]}"
