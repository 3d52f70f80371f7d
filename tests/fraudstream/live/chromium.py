"""Headless Chromium for browser tests, driven over the DevTools protocol on a pipe.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from file descriptor
3 and writes answers and events to descriptor 4, one JSON message each, NUL-terminated. That
needs no WebDriver, no websocket library and no debugging port: the standard library spawns
the browser with the two pipes in place (``posix_spawn`` file actions) and exchanges JSON.

    with Chromium.launch(tmp_path) as browser:
        page = browser.open("http://127.0.0.1:8765/", width=1400, height=1000)
        page.wait_for("document.body.dataset.state === 'live'")
        text = page.evaluate("document.body.innerText")
        png = page.screenshot()
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import time
from pathlib import Path
from typing import Any

# Flags for this machine's closed network and for a clean, quiet, throwaway profile.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-proxy-server",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


class ChromiumError(RuntimeError):
    """The browser failed, answered with an error, or did not answer in time."""


def find_chromium() -> str | None:
    """The first Chromium on PATH (Debian's package installs /usr/bin/chromium)."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser process and its protocol pipe."""

    def __init__(self, pid: int, to_browser: int, from_browser: int, log: Path) -> None:
        self.pid = pid
        self.log = log
        self._out = to_browser
        self._in = from_browser
        self._buffer = b""
        self._next_id = 0

    @classmethod
    def launch(cls, workdir: Path, executable: str | None = None) -> Chromium:
        """Start Chromium with a fresh profile under ``workdir``; its stderr goes to a log."""
        binary = executable or find_chromium()
        if binary is None:
            raise ChromiumError("no Chromium on PATH")
        profile = workdir / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        log = workdir / "chromium.log"
        commands_r, commands_w = os.pipe()
        answers_r, answers_w = os.pipe()
        # The child's ends go to descriptors 3 and 4; park them above 10 first so that one
        # cannot be overwritten by the other's dup2.
        child_in = fcntl.fcntl(commands_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(answers_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(commands_r)
        os.close(answers_w)
        devnull = os.open(os.devnull, os.O_RDWR)
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        argv = [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        try:
            pid = os.posix_spawn(
                binary,
                argv,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                    (os.POSIX_SPAWN_DUP2, child_in, 3),
                    (os.POSIX_SPAWN_DUP2, child_out, 4),
                ],
                setsid=True,  # its own process group: close() can end the renderers too
            )
        finally:
            for fd in (child_in, child_out, devnull, log_fd):
                os.close(fd)
        browser = cls(pid, commands_w, answers_r, log)
        try:
            browser.call("Browser.getVersion", timeout=60)
        except ChromiumError:
            browser.close()
            raise
        return browser

    # --- protocol --------------------------------------------------------------------------
    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChromiumError(f"no answer from Chromium in time (log: {self.log})")
            ready, _, _ = select.select([self._in], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise ChromiumError(f"Chromium closed the pipe (log: {self.log})")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send one command and return its result (events in between are skipped)."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") != ident:
                continue
            if "error" in answer:
                raise ChromiumError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer.get("result", {})
            return result

    def open(self, url: str, *, width: int = 1280, height: int = 800) -> Page:
        """A new tab of ``width`` x ``height`` CSS pixels (device scale 1) showing ``url``."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        page.call("Page.enable")
        page.call("Page.navigate", {"url": url})
        return page

    # --- life cycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Ask the browser to quit; end its process group if it does not."""
        with contextlib.suppress(ChromiumError, OSError):
            self.call("Browser.close", timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.killpg(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        for fd in (self._out, self._in):
            os.close(fd)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab, addressed through its protocol session."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, session=self.session)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise ChromiumError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise ChromiumError(f"still false after {timeout:g} s: {expression}")
            time.sleep(0.1)

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        return base64.b64decode(data)
