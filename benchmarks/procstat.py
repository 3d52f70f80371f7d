"""Memory and CPU time of running processes, from Linux's ``/proc``: what the soak samples.

The processor is three kinds of process: the Python driver (the batch sink), the JVM it starts
(Spark) and the Python workers the JVM starts (the source's ``read()``). :func:`process_tree`
finds them from the driver's pid. Everything here reads ``/proc`` and returns ``None`` for a
process that has gone (or on a system without ``/proc``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_bytes(pid: int) -> int | None:
    """Resident set size (``VmRSS``) of ``pid`` in bytes."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time ``pid`` has used, in seconds."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS


def command_line(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from every process's parent id)."""
    found = []
    for entry in PROC.glob("[0-9]*"):
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        if int(text.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    pending = [pid]
    while pending:
        kids = children(pending.pop())
        out += kids
        pending += kids
    return out


@dataclass(frozen=True)
class ProcessTree:
    """The processor's processes, by role."""

    driver: int
    jvm: list[int]
    workers: list[int]

    @property
    def all(self) -> list[int]:
        return [self.driver, *self.jvm, *self.workers]


def process_tree(driver: int) -> ProcessTree:
    """The JVMs among ``driver``'s descendants and every process under them (Python workers)."""
    jvm = [pid for pid in descendants(driver) if "java" in command_line(pid).split(" ", 1)[0]]
    workers = sorted({w for pid in jvm for w in descendants(pid)})
    return ProcessTree(driver, jvm, workers)


def total(values: list[int | float | None]) -> float | None:
    """The sum of the values known, ``None`` when none is."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None
