"""Rewrite a pip lock file with the sha256 of every file pip may install for each pin.

    python -m tools.hash_lock requirements.lock

Reads the ``name==version`` pins (``--hash`` lines already there are dropped and made again),
asks pip which file it would install for each pin, on this machine and on each target below
(``pip install --dry-run --report``: pip is the client, so the index and its credentials are
pip's own configuration), and writes every pin back with the hashes of all those files, sorted
by name. ``pip install --require-hashes -r requirements.lock`` then installs nothing whose hash
is not in the file: a replaced file on the index, or a pin added without running this, fails
the install instead of running unreviewed code.

A pin that has only a source distribution here (pyspark) gets that one hash: pip builds it on
every platform. A pin with no wheel for a target is skipped for that target and said so.

    python -m tools.hash_lock requirements.lock --select "/src[model]" [--exclude pyspark]

prints only the lock entries (with their hashes) that installing the given requirement needs,
plus the build backend (setuptools, wheel): what an image installs with ``--require-hashes
--no-deps`` before the project itself (``--no-deps --no-build-isolation``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: (platform tags, Python version) pip resolves for besides this machine: CI and the images
#: (Linux x86_64), Graviton and Apple-silicon Docker (Linux aarch64), developers' Macs.
TARGETS: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    (platforms, python)
    for platforms in (
        ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
        ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
        ("macosx_14_0_arm64",),
    )
    for python in ("3.11", "3.12")
)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
SDIST = (".tar.gz", ".zip", ".tar.bz2")


def canonical(name: str) -> str:
    """PEP 503 normalised name (``Flask`` and ``flask`` are one project)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    name: str
    version: str
    hashes: set[str] = field(default_factory=set)
    sdist_only: bool = False


def parse_pins(text: str) -> dict[str, Pin]:
    """The ``name==version`` pins of a requirements file; comments, options and ``--hash``
    continuation lines are ignored."""
    pins: dict[str, Pin] = {}
    for line in text.splitlines():
        match = PIN.match(line.strip())
        if match:
            name, version = match.groups()
            pins[canonical(name)] = Pin(name, version)
    return pins


def render(pins: dict[str, Pin], header: str) -> str:
    """The lock file: a comment header, then each pin with its sorted hashes."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key in sorted(pins):
        pin = pins[key]
        if not pin.hashes:
            raise ValueError(f"no hash found for {pin.name}=={pin.version}")
        hashes = sorted(pin.hashes)
        lines.append(f"{pin.name}=={pin.version} \\")
        lines += [
            f"    --hash=sha256:{h}" + (" \\" if i < len(hashes) - 1 else "")
            for i, h in enumerate(hashes)
        ]
    return "\n".join(lines) + "\n"


def report_hashes(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """canonical name -> (sha256, file URL) of each file in a pip installation report."""
    found = {}
    for item in report.get("install", []):
        info = item["download_info"]
        digest = info.get("archive_info", {}).get("hashes", {}).get("sha256")
        if digest:
            found[canonical(item["metadata"]["name"])] = (digest, info["url"])
    return found


def _pip_report(pins: Iterable[Pin], extra: Sequence[str]) -> tuple[dict[str, Any] | None, str]:
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "pins.txt"
        requirements.write_text("".join(f"{p.name}=={p.version}\n" for p in pins))
        report = Path(folder) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
            "--quiet",
            "--report",
            str(report),
            "-r",
            str(requirements),
            *extra,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode:
            return None, result.stderr
        return json.loads(report.read_text()), ""


def collect(pins: dict[str, Pin], targets: Sequence[tuple[Sequence[str], str]]) -> list[str]:
    """Fill each pin's hashes; returns notes about pins skipped for a target."""
    report, error = _pip_report(pins.values(), [])
    if report is None:
        raise SystemExit(f"pip could not resolve the pins on this machine:\n{error}")
    for key, (digest, url) in report_hashes(report).items():
        pins[key].hashes.add(digest)
        pins[key].sdist_only = url.endswith(SDIST)
    notes = []
    for platforms, python in targets:
        wanted = {k: p for k, p in pins.items() if not p.sdist_only}
        extra = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
        extra += [f"--platform={tag}" for tag in platforms]
        while wanted:
            report, error = _pip_report(wanted.values(), extra)
            if report is not None:
                for key, (digest, _) in report_hashes(report).items():
                    pins[key].hashes.add(digest)
                break
            missing = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)==", error)
            if not missing or canonical(missing.group(1)) not in wanted:
                raise SystemExit(f"pip failed for {platforms[0]} / {python}:\n{error}")
            skipped = wanted.pop(canonical(missing.group(1)))
            notes.append(
                f"{skipped.name}=={skipped.version}: no wheel for {platforms[0]} / {python}"
            )
    return notes


def entries(text: str) -> dict[str, str]:
    """canonical name -> the pin's whole entry (its line and its ``--hash`` lines)."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            current = canonical(match.group(1))
            found[current] = line
        elif current and line.startswith(" "):
            found[current] += "\n" + line
        else:
            current = None
    return found


BUILD_BACKEND = ("setuptools", "wheel")


def select(text: str, requirement: str, exclude: Sequence[str] = ()) -> str:
    """The entries of the lock ``text`` that installing ``requirement`` needs (as pip resolves
    it against the pins), plus the build backend, minus ``exclude``: a hash-checked
    requirements file for one image."""
    pins = parse_pins(text)
    with tempfile.TemporaryDirectory() as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text("".join(f"{p.name}=={p.version}\n" for p in pins.values()))
        report_path = Path(folder) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report_path),
            "--constraint",
            str(constraints),
            requirement,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode:
            raise SystemExit(f"pip could not resolve {requirement}:\n{result.stderr}")
        report = json.loads(report_path.read_text())
    needed = {canonical(item["metadata"]["name"]) for item in report["install"]}
    needed |= set(BUILD_BACKEND)
    needed -= {canonical(name) for name in exclude}
    chosen = entries(text)
    return "".join(chosen[name] + "\n" for name in sorted(needed) if name in chosen)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path, help="requirements file to rewrite in place")
    parser.add_argument("--this-machine-only", action="store_true", help="skip the TARGETS")
    parser.add_argument("--select", metavar="REQUIREMENT", help="print the entries it needs")
    parser.add_argument("--exclude", action="append", default=[], help="with --select: leave out")
    args = parser.parse_args(argv)
    if args.select:
        sys.stdout.write(select(args.lock.read_text(), args.select, args.exclude))
        return 0
    pins = parse_pins(args.lock.read_text())
    notes = collect(pins, [] if args.this_machine_only else TARGETS)
    header = (
        "Pinned with sha256 hashes by `make lock-hashes` (tools/hash_lock.py); installed with\n"
        "`pip install --require-hashes -r requirements.lock`. Add or change a pin as\n"
        "name==version, then run `make lock-hashes`."
    )
    args.lock.write_text(render(pins, header))
    for note in notes:
        print(f"hash_lock: {note}", file=sys.stderr)
    print(f"hash_lock: {len(pins)} pins, {sum(len(p.hashes) for p in pins.values())} hashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
