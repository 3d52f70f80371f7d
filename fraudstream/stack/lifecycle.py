"""Start, stop and inspect the embedded emulator process.

The emulator runs detached (its own session) so it outlives the command that started it; its
pid, endpoint and log path go to ``<state_dir>/emulator.json`` and its output to
``<state_dir>/emulator.log``. ``down`` stops only a process this module started: it checks the
recorded pid still runs our emulator module before signalling it.

When ``AWS_ENDPOINT_URL`` points elsewhere (LocalStack, say), ``up`` starts nothing and only
creates the resources there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from fraudstream.errors import StackError
from fraudstream.settings import Settings
from fraudstream.stack.resources import StackResources, ensure_resources

EMULATOR_MODULE = "fraudstream.stack.emulator"
STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"


@dataclass(frozen=True)
class EmulatorState:
    """What `up` recorded about the process it started."""

    pid: int
    endpoint: str
    log_path: str
    started_at: str
    patched: bool
    shard_limits: bool = False  # AWS's per-shard Kinesis limits enforced (state files before
    # the limits existed lack the field: that emulator had none)


@dataclass(frozen=True)
class StackStatus:
    """Where the stack's endpoint is and who runs it."""

    endpoint: str
    running: bool
    managed: bool  # True when this machine's `stack up` started the emulator
    pid: int | None = None
    log_path: str | None = None
    resources: StackResources | None = None


def _state_path(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def read_state(settings: Settings) -> EmulatorState | None:
    """The recorded emulator, or None when there is no (readable) record."""
    path = _state_path(settings)
    try:
        return EmulatorState(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _is_our_emulator(pid: int) -> bool:
    """True when ``pid`` is alive and runs the emulator module (guards against pid reuse).

    A live process's ``/proc/<pid>/cmdline`` can read empty for a moment (while the kernel
    maps its memory), so an empty read counts as ours; a zombie counts as gone.
    """
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True  # no /proc (macOS): trust the pid file
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    return not cmdline or EMULATOR_MODULE.encode() in cmdline.split(b"\0")


def is_reachable(endpoint: str, timeout: float = 1.0) -> bool:
    """True when something answers HTTP at ``endpoint`` (any status code)."""
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=timeout):  # noqa: S310 - http only
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def wait_until_reachable(endpoint: str, timeout: float, pid: int | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not is_reachable(endpoint):
        if pid is not None and not _is_our_emulator(pid):
            raise StackError("the emulator exited during start-up; see its log for why")
        if time.monotonic() > deadline:
            raise StackError(f"no answer from {endpoint} after {timeout:.0f}s")
        time.sleep(0.1)


def _external(settings: Settings) -> bool:
    return settings.endpoint_url is not None and settings.endpoint_url != settings.stack_endpoint


def start_emulator(
    settings: Settings, *, stock: bool = False, timeout: float = 30.0
) -> EmulatorState:
    """Start the emulator in the background (or return the one already running).

    AWS's per-shard Kinesis limits follow ``settings.stack_shard_limits`` (always off with
    ``stock``); a running emulator started with the other choice is an error, not a surprise.
    """
    limits = settings.stack_shard_limits and not stock
    current = read_state(settings)
    if current is not None and _is_our_emulator(current.pid):
        if current.shard_limits != limits:
            mode = "on" if current.shard_limits else "off"
            raise StackError(
                f"the running emulator (pid {current.pid}) has Kinesis shard limits {mode}; "
                "stop it with `fraudstream stack down` to start one with the other setting"
            )
        return current
    if not _port_free(settings.stack_host, settings.stack_port):
        raise StackError(
            f"port {settings.stack_port} on {settings.stack_host} is already in use by another "
            "process; if that is LocalStack, set AWS_ENDPOINT_URL to it, otherwise set "
            "FRAUDSTREAM_STACK_PORT to a free port"
        )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.state_dir / LOG_FILE
    command = [
        sys.executable,
        "-m",
        EMULATOR_MODULE,
        "--host",
        settings.stack_host,
        "--port",
        str(settings.stack_port),
    ]
    if stock:
        command.append("--stock")
    if not limits:
        command.append("--no-shard-limits")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    state = EmulatorState(
        pid=process.pid,
        endpoint=settings.stack_endpoint,
        log_path=str(log_path),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        patched=not stock,
        shard_limits=limits,
    )
    _state_path(settings).write_text(json.dumps(asdict(state), indent=2))
    try:
        wait_until_reachable(state.endpoint, timeout, pid=process.pid)
    except StackError as error:
        stop_emulator(settings)
        raise StackError(f"{error} (log: {log_path})") from error
    return state


def stop_emulator(settings: Settings, timeout: float = 10.0) -> bool:
    """Stop the emulator this machine started; False when there was none to stop."""
    state = read_state(settings)
    if state is None:
        return False
    stopped = False
    if _is_our_emulator(state.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_our_emulator(state.pid) and time.monotonic() < deadline:
            _reap(state.pid)
            time.sleep(0.1)
        if _is_our_emulator(state.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(state.pid, signal.SIGKILL)
        _reap(state.pid)
        stopped = True
    _state_path(settings).unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    """Collect the exit status when the emulator is our own child (tests start it in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def up(settings: Settings, *, stock: bool = False, timeout: float = 30.0) -> StackStatus:
    """Make the stack's endpoint answer and its resources exist."""
    if _external(settings):
        endpoint = settings.endpoint_url or ""
        if not is_reachable(endpoint, timeout=3.0):
            raise StackError(f"AWS_ENDPOINT_URL={endpoint} does not answer; is LocalStack running?")
        resources = ensure_resources(settings, timeout=timeout)
        return StackStatus(endpoint=endpoint, running=True, managed=False, resources=resources)
    state = start_emulator(settings, stock=stock, timeout=timeout)
    local = settings.model_copy(update={"endpoint_url": state.endpoint})
    resources = ensure_resources(local, timeout=timeout)
    return StackStatus(
        endpoint=state.endpoint,
        running=True,
        managed=True,
        pid=state.pid,
        log_path=state.log_path,
        resources=resources,
    )


def status(settings: Settings) -> StackStatus:
    """Report the stack without changing anything."""
    if _external(settings):
        endpoint = settings.endpoint_url or ""
        return StackStatus(endpoint=endpoint, running=is_reachable(endpoint), managed=False)
    state = read_state(settings)
    if state is None or not _is_our_emulator(state.pid):
        return StackStatus(endpoint=settings.stack_endpoint, running=False, managed=False)
    return StackStatus(
        endpoint=state.endpoint,
        running=is_reachable(state.endpoint),
        managed=True,
        pid=state.pid,
        log_path=state.log_path,
    )
