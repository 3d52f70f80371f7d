"""CPU time by role (driver, Spark's JVM, the streaming source's runner, Python workers,
producer, emulator, model server),
read from ``/proc``, so a benchmark can report CPU per transaction of every process.

Only this process and its descendants are counted, plus pids named explicitly (the emulator
runs in a session of its own), so other work on the machine does not leak into the figures.
A process's own time and that of its children that have exited (``cutime``, ``cstime``) are
counted, except for the driver, whose exited children (the producer, say) are no part of it:
a caller measures such a child itself while it runs (:func:`own`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROLES = (
    "driver",
    "jvm",
    "source_runner",
    "python_workers",
    "producer",
    "emulator",
    "model_server",
    "other",
)
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, exited children's CPU seconds) of ``pid``, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    # after the command: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
    own = (int(fields[11]) + int(fields[12])) / _TICKS
    children = (int(fields[13]) + int(fields[14])) / _TICKS
    return int(fields[1]), own, children


def own(pid: int) -> float | None:
    """CPU seconds ``pid`` itself has used, or None when it is gone."""
    stat = _stat(pid)
    return None if stat is None else stat[1]


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def role_of(pid: int, command: str, driver: int) -> str:
    if pid == driver:
        return "driver"
    if "java" in command.split(" ", 1)[0] or "org.apache.spark" in command:
        return "jvm"
    if "python_streaming_source_runner" in command:  # the streaming source's planner
        return "source_runner"
    if "pyspark.daemon" in command or "pyspark.worker" in command:
        return "python_workers"
    if " produce" in command or "replay" in command:
        return "producer"
    if "fraudstream.stack.emulator" in command or "moto" in command:
        return "emulator"
    if "serve-model" in command or "gunicorn" in command:
        return "model_server"
    return "other"


@dataclass
class CpuSample:
    seconds: dict[str, float] = field(default_factory=dict)


def sample(extra_pids: Iterable[int] = (), driver: int | None = None) -> CpuSample:
    """CPU seconds so far by role, over this process's tree and ``extra_pids``' trees."""
    driver = os.getpid() if driver is None else driver
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            stat = _stat(pid)
            if stat is not None:
                parents[pid] = stat[0]
                cpu[pid] = stat[1] + (stat[2] if pid != driver else 0.0)
    roots = {driver, *extra_pids}
    counted = set()
    for pid in cpu:
        node = pid
        while node and node not in roots and node in parents and parents[node] != node:
            node = parents[node]
        if node in roots:
            counted.add(pid)
    out = CpuSample({role: 0.0 for role in ROLES})
    for pid in counted:
        role = role_of(pid, _cmdline(pid), driver)
        out.seconds[role] += cpu[pid]
    return out


def per_transaction(before: CpuSample, after: CpuSample, transactions: int) -> dict[str, float]:
    """Microseconds of CPU per transaction, by role, between two samples."""
    n = max(transactions, 1)
    return {
        role: round((after.seconds.get(role, 0.0) - before.seconds.get(role, 0.0)) / n * 1e6, 1)
        for role in ROLES
    }
