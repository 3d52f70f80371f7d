"""The suite's child processes: the processor (startable, killable, restartable on one
checkpoint) and the producer. The model server is :class:`benchmarks.harness.ModelServer`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.faults.progress import Batch, read_batches
from benchmarks.harness import cli, environment
from fraudstream.demo.processes import produce_args
from fraudstream.settings import Settings


class ProcessorFailed(RuntimeError):
    """The processor exited on its own, or never started."""


class Processor:
    """The processor child (:mod:`.child`) of one scenario: one batch log and one checkpoint
    for every run, so a restart resumes where the last run committed."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.log = workdir / "batches.jsonl"
        self.output = workdir / "processor.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 180.0) -> float:
        """Start a run; return the wall-clock time it was started, once its query runs."""
        started_file = self.log.with_suffix(".started")
        started_file.unlink(missing_ok=True)
        began = time.time()
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.faults.child", str(self.log)],
                env=environment(self.settings),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: kill -9 reaches the JVM and workers
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not started_file.exists():
            self.check_alive()
            if time.monotonic() > deadline:
                self.kill()
                raise ProcessorFailed(f"the processor did not start in {timeout:.0f} s")
            time.sleep(0.2)
        return began

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            tail = self.output.read_text(errors="replace")[-3000:] if self.output.exists() else ""
            raise ProcessorFailed(f"the processor exited (code {code}):\n{tail}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def batches(self) -> list[Batch]:
        return read_batches(self.log)

    def kill(self) -> None:
        """``kill -9`` the driver, its JVM and its Python workers: the whole process group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop between batches (SIGTERM); ``kill -9`` if that takes longer than ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


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
