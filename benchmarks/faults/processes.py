"""The suite's child processes: the processor (startable, killable, restartable on one
checkpoint) and the producer. The model server is :class:`benchmarks.harness.ModelServer`."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from benchmarks.faults.progress import Batch, read_batches
from benchmarks.harness import cli, environment
from fraudstream.demo.processes import Child, ChildFailedError, produce_args
from fraudstream.settings import Settings


class ProcessorFailed(RuntimeError):
    """The processor exited on its own, or never started."""


class Processor:
    """The processor child (:mod:`.child`) of one scenario: one batch log and one checkpoint
    for every run, so a restart resumes where the last run committed. Each run is a
    :class:`~fraudstream.demo.processes.Child` (its own process group, output appended to
    ``processor.log``), as the demo runs its processor."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.log = workdir / "batches.jsonl"
        self.output = workdir / "processor.log"
        self.child: Child | None = None
        self.starts = 0

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The current run's process (``None`` before the first start)."""
        return None if self.child is None else self.child.process

    def start(self, timeout: float = 180.0) -> float:
        """Start a run; return the wall-clock time it was started, once its query runs."""
        started_file = self.log.with_suffix(".started")
        started_file.unlink(missing_ok=True)
        began = time.time()
        self.child = Child.start(
            self.output.stem,
            [str(self.log)],
            environment(self.settings),
            self.output.parent,
            module="benchmarks.faults.child",
        )
        self.starts += 1
        try:
            self.child.wait_until(started_file.exists, timeout, "its query running", poll=0.2)
        except ChildFailedError as error:
            self.kill()
            raise ProcessorFailed(str(error)) from error
        return began

    def check_alive(self) -> None:
        """Raise :class:`ProcessorFailed`, with the end of its log, if the processor is not
        running."""
        if self.child is None:
            raise ProcessorFailed("the processor was never started")
        if not self.child.running:
            code = self.child.process.returncode
            raise ProcessorFailed(
                f"the processor exited (code {code}); last lines of {self.output}:\n"
                + self.child.tail(40)
            )

    def running(self) -> bool:
        return self.child is not None and self.child.running

    def batches(self) -> list[Batch]:
        return read_batches(self.log)

    def kill(self) -> None:
        """``kill -9`` the driver, its JVM and its Python workers: the whole process group."""
        if self.child is not None:
            self.child.kill()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop between batches (SIGTERM to the driver, which stops the query as
        ``fraudstream process`` does); ``kill -9`` if that takes longer than ``timeout``."""
        if self.child is not None:
            self.child.stop(grace=timeout)


def start_producer(
    settings: Settings, *, rate: int, duration: float, cards: int, seed: int, log: Path
) -> subprocess.Popen[bytes]:
    """`fraudstream produce` (simulated clock, 5 % injected fraud) in its own process."""
    with log.open("ab") as output:
        return cli(
            environment(settings),
            *produce_args(rate=rate, duration=duration, cards=cards, fraud_rate=0.05, seed=seed),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_producer(producer: subprocess.Popen[bytes], log: Path, timeout: float = 600.0) -> None:
    code = producer.wait(timeout=timeout)
    if code:
        raise RuntimeError(f"the producer failed ({code}): {log.read_text()[-2000:]}")
