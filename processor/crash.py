"""Crash points (test only): kill the processor at one step of one micro-batch, on purpose.

The exactly-once guarantee rests on what a restart finds after a death at any moment of the
batch sink: scored but nothing written, a table's files stored but not committed, some lake
tables committed and others not, the lake written but not the alerts, everything written and
Spark's commit log written or not (the sink runs a batch behind Spark, ADR 0017, so Spark may
have committed the batch, and planned the next, before the sink finished it). Killing the
process from outside lands at a random moment, so the reliability tests name the moment instead:
``FRAUDSTREAM_CRASH_AT=<step>:<batch id>`` (:attr:`~fraudstream.settings.Settings.crash_at`)
makes the processor kill its own driver when batch ``<batch id>`` finishes ``<step>``
(:data:`STEPS`).

Most steps are the batch sink's (:mod:`processor.batch_sink`); two are inside the lake writer
(:mod:`processor.sinks.lake`), which writes the tables in parallel: ``lake-files`` fires when
the first table's Parquet files are stored, before any table's Delta commit; ``lake-commit``
when the first table's commit is put, the other tables' commits put or not. ``commit`` is the
end of the sink's batch.

The death is real: ``SIGKILL`` to the driver's own process, so no ``finally``, no ``atexit``,
no buffered write is flushed, as after an out-of-memory kill or a lost node. The driver's JVM
exits when its Python parent dies (Spark's gateway watches the pipe), and the Python workers
with it. The setting is read once, when the sink and its lake writer are built; unset
(production) it costs one ``None`` test per step. A restart must not set the same point
again, or the replayed batch dies at the same place.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

STEPS = (
    "labels",
    "features",
    "scoring",
    "anomaly",
    "decisions",
    "lake-files",
    "lake-commit",
    "lake",
    "alerts",
    "state",
    "commit",
)
"""The sink's steps in order; a crash point follows one."""


def kill_this_process() -> None:
    """``SIGKILL`` to this very process: nothing after it runs."""
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class CrashPoint:
    """Die after ``step`` of batch ``batch_id``; ``kill`` is replaceable for unit tests.

    A test's ``kill`` returns (it raises), so a point that fired stays fired: every later
    check kills again, and no other thread of the "dead" sink writes on, as none would after
    a ``SIGKILL``.
    """

    step: str
    batch_id: int
    kill: Callable[[], None] = field(default=kill_this_process, compare=False, repr=False)
    fired: bool = field(default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise ValueError(f"unknown crash step {self.step!r}; one of: {', '.join(STEPS)}")
        if self.batch_id < 0:
            raise ValueError("the crash batch id must be >= 0")

    @classmethod
    def parse(cls, text: str, kill: Callable[[], None] = kill_this_process) -> CrashPoint:
        """``<step>:<batch id>``, e.g. ``lake:3`` or ``lake-commit:3``."""
        step, sep, batch = text.strip().partition(":")
        if not sep or not batch.strip().isdigit():
            raise ValueError(f"crash point {text!r} is not <step>:<batch id>, e.g. lake:3")
        return cls(step.strip(), int(batch), kill)

    def reached(self, step: str, batch_id: int) -> None:
        """Kill the process if this is the point (or the point fired already)."""
        if self.fired:
            self.kill()
        elif step == self.step and batch_id == self.batch_id:
            self.fired = True
            log.warning("crash point %s:%d reached: killing the processor", step, batch_id)
            for handler in logging.getLogger().handlers:
                handler.flush()
            self.kill()


def from_setting(value: str | None) -> CrashPoint | None:
    """The crash point a setting names (``None``: none, as in production)."""
    return None if value is None else CrashPoint.parse(value)
