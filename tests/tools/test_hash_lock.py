"""The hash-locked requirements: the tool's pure parts, and the committed lock itself."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tools.hash_lock import Pin, canonical, entries, parse_pins, render

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
H1, H2 = "a" * 64, "b" * 64


def test_pins_are_read_whatever_the_hashes_and_comments() -> None:
    text = f"# header\nFlask==3.1.3 \\\n    --hash=sha256:{H1}\nsix==1.17.0\n-e .\n"
    pins = parse_pins(text)
    assert {k: (p.name, p.version) for k, p in pins.items()} == {
        "flask": ("Flask", "3.1.3"),
        "six": ("six", "1.17.0"),
    }
    assert entries(text)["flask"] == f"Flask==3.1.3 \\\n    --hash=sha256:{H1}"


def test_render_writes_every_hash_sorted_and_refuses_a_pin_without_one() -> None:
    pins = {"six": Pin("six", "1.17.0", {H2, H1}), "a-b": Pin("a_b", "1")}
    with pytest.raises(ValueError, match="a_b==1"):
        render(pins, "header")
    pins["a-b"].hashes.add(H1)
    assert render(pins, "header") == (
        f"# header\na_b==1 \\\n    --hash=sha256:{H1}\n"
        f"six==1.17.0 \\\n    --hash=sha256:{H1} \\\n    --hash=sha256:{H2}\n"
    )
    assert parse_pins(render(pins, "header")).keys() == pins.keys()  # round trip


def test_names_are_compared_as_pep_503_says() -> None:
    assert canonical("Typing_Extensions") == canonical("typing-extensions") == "typing-extensions"
    assert canonical("zope.interface") == "zope-interface"


def test_the_committed_lock_hashes_every_pin() -> None:
    """`pip install --require-hashes` refuses a lock with a pin that has no hash."""
    text = LOCK.read_text()
    pins = parse_pins(text)
    blocks = entries(text)
    assert len(pins) > 50 and set(blocks) == set(pins)
    for name, block in blocks.items():
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", block)
        assert hashes, f"{name} has no sha256 hash: run `make lock-hashes`"
    assert list(pins) == sorted(pins), "run `make lock-hashes` (it sorts the pins)"
    assert {"setuptools", "wheel"} <= set(pins), "the build backend is hash-checked too"


def test_the_lock_pins_every_declared_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += [d for d in extra if not d.startswith("fraudstream")]
    pins = parse_pins(LOCK.read_text())
    for requirement in declared:
        name = canonical(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])
        assert name in pins, f"{requirement} is not pinned in requirements.lock"


def test_install_checks_hashes_and_installs_the_project_without_dependencies() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements.lock" in makefile
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in makefile
    for dockerfile in sorted((REPO / "infrastructure" / "docker").glob("*/Dockerfile")):
        text = dockerfile.read_text()
        assert "--require-hashes --no-deps -r /tmp/requirements.txt" in text, dockerfile
        assert "pip install --no-deps --no-build-isolation /src" in text, dockerfile
