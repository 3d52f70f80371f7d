"""Child processes the demo starts: each a ``fraudstream`` command with its own settings.

A child's output goes to a log file (the terminal belongs to the live view); a failed start
raises with the log's last lines, so the user sees why rather than a hang. Stopping sends
SIGTERM (the processor and the model server stop cleanly on it) and kills only after a grace
period. The benchmarks and the tests use the same helpers: :class:`Child` also runs the fault
suite's processor, :func:`produce_args` is every simulated producer's command line and
:func:`free_port` gives every loopback server its port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fraudstream.errors import FraudstreamError


class ChildFailedError(FraudstreamError):
    """A child process exited or did not become ready."""


@dataclass
class Child:
    """One running ``fraudstream`` command (or ``python -m`` another module)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        log_dir: Path,
        *,
        module: str = "fraudstream",
    ) -> Child:
        """``python -m <module> <args>`` with ``env`` over this environment; its output is
        appended to ``<log_dir>/<name>.log``."""
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        with log_path.open("ab") as log:  # the child holds its own copy
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Own process group: Ctrl-C reaches the demo only, which stops children in
                # order; and kill() reaches the child's own children (a JVM, Python workers).
                start_new_session=True,
            )
        return cls(name, process, log_path)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, what: str) -> ChildFailedError:
        return ChildFailedError(
            f"{self.name} {what}; last lines of {self.log_path}:\n{self.tail()}"
        )

    def wait_until(
        self, ready: Callable[[], bool], timeout: float, what: str, poll: float = 0.25
    ) -> None:
        """Block until ``ready()`` is true; raise if the child dies or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running:
                raise self.fail(f"exited with status {self.process.returncode} before {what}")
            if time.monotonic() > deadline:
                raise self.fail(f"did not get {what} within {timeout:.0f} s")
            time.sleep(poll)

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM to the child, then :meth:`kill` after ``grace`` seconds; returns the exit
        status. Only the child gets SIGTERM: it stops its own children in order (the processor
        stops its query between batches; its JVM and Python workers end with it). What the
        child started still has ``grace`` to end after it; then the group is killed, so a
        stopped child leaves nothing running."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        deadline = time.monotonic() + grace
        killed = False
        while self._group_alive():
            if not killed and time.monotonic() > deadline:
                self._kill_group()
                killed, deadline = True, time.monotonic() + 10  # SIGKILL lands in moments
            elif killed and time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return self.process.returncode

    def _group_alive(self) -> bool:
        """Whether any process of the child's group (it leads its own session) still runs:
        a Spark driver's JVM ends a moment after the driver, when its stdin closes."""
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - the group id was reused by another user
            return False
        return True

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def kill(self, timeout: float = 60.0) -> int:
        """``kill -9`` the child's whole process group (for the processor: the driver, its JVM
        and its Python workers); returns the exit status."""
        if self.running:
            self._kill_group()
        return self.process.wait(timeout=timeout)


def produce_args(
    *,
    rate: float,
    duration: float,
    cards: int,
    fraud_rate: float | None = None,
    seed: int | None = None,
    label_delay: float | None = None,
    drift: str | None = None,
    drift_at: float | None = None,
) -> list[str]:
    """The arguments of ``fraudstream produce`` on the simulated clock, as the demo and the
    benchmarks run it; an option left ``None`` is not passed (the producer's default)."""
    args = ["produce", "--clock", "simulated"]
    for option, value in (
        ("--rate", rate),
        ("--duration", duration),
        ("--cards", cards),
        ("--fraud-rate", fraud_rate),
        ("--seed", seed),
        ("--label-delay", label_delay),
        ("--drift", drift),
        ("--drift-at", drift_at),
    ):
        if value is not None:
            args += [option, str(value)]
    return args


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False
