"""Run the model server: under gunicorn (``fraudstream serve-model``, the container image), or
on a thread for tests and in-process tools (:class:`RunningServer`).

Production runs gunicorn, as SageMaker's own framework containers do: ``workers`` processes,
each loading the model after the fork, each scoring ``threads`` requests at a time (the gthread
worker; XGBoost's in-place prediction is thread-safe) and holding at most ``max_connections``
open connections (more wait in the listen backlog). Every accepted connection carries kernel
read and write timeouts (``SO_RCVTIMEO``/``SO_SNDTIMEO``, inherited from the listening
socket), so a client that goes silent while sending its headers or body, or stops reading the
answer, loses its connection after ``timeout_seconds`` instead of holding a thread; a stuck
worker is restarted after the same time. The request body limit is the app's own
(:mod:`.body`), so it holds on either server.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from ml_model.serving.app import create_app

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
#: Seconds an idle keep-alive connection stays open: longer than the gap between the scoring
#: client's micro-batches (about a second), short enough that a stop is not held up by idle
#: connections for long.
KEEPALIVE_SECONDS = 5
#: Seconds in-flight requests get to finish after SIGTERM (Kubernetes and SageMaker wait 30;
#: a worker waits this long whenever an idle keep-alive connection is open, so keep it short).
GRACEFUL_SECONDS = 5


@dataclass(frozen=True)
class ServerLimits:
    """How much one serve-model instance takes on (``FRAUDSTREAM_MODEL_SERVER_*`` settings)."""

    workers: int = 1
    threads: int = 4
    max_connections: int = 64
    timeout_seconds: int = 30

    def __post_init__(self) -> None:
        for name in ("workers", "threads", "max_connections", "timeout_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


def _socket_timeouts(seconds: int) -> Any:
    """A gunicorn ``when_ready`` hook: read and write timeouts on the listening sockets, which
    every connection accepted from them inherits (Linux copies them on accept)."""
    timeval = struct.pack("ll", seconds, 0)

    def when_ready(arbiter: Any) -> None:
        for listener in arbiter.LISTENERS:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)

    return when_ready


def gunicorn_options(
    host: str, port: int, limits: ServerLimits, *, log_level: str = "info"
) -> dict[str, Any]:
    """gunicorn's settings for serve-model (pure, so a test can read them)."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {
        "bind": [address],
        "workers": limits.workers,
        "worker_class": "gthread",
        "threads": limits.threads,
        "worker_connections": limits.max_connections,
        "timeout": limits.timeout_seconds,
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        # Request line and headers: what SageMaker and boto3 send fits well inside these.
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
        "preload_app": False,  # each worker loads the model itself (OpenMP does not survive fork)
        "control_socket_disable": True,  # no runtime control interface
        "proc_name": "fraudstream-model-server",
        "errorlog": "-",
        "accesslog": None,
        "loglevel": log_level.lower(),
        "when_ready": _socket_timeouts(limits.timeout_seconds),
    }


def serve(
    model_dir: str | Path,
    *,
    host: str,
    port: int,
    endpoint_name: str,
    nthread: int = 1,
    limits: ServerLimits | None = None,
    log_level: str = "info",
) -> None:
    """Serve under gunicorn until SIGTERM or SIGINT (blocks; must run on the main thread)."""
    from gunicorn.app.base import BaseApplication

    options = gunicorn_options(host, port, limits or ServerLimits(), log_level=log_level)

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(model_dir, endpoint_name=endpoint_name, nthread=nthread)

    log.info("model server on http://%s:%d (endpoint %s)", host, port, endpoint_name)
    _Gunicorn().run()


def build_server(
    model_dir: str | Path, *, host: str, port: int, endpoint_name: str, nthread: int = 1
) -> BaseWSGIServer:
    """Werkzeug's threaded server around the same app, for :class:`RunningServer`."""
    app = create_app(model_dir, endpoint_name=endpoint_name, nthread=nthread)
    return make_server(host, port, app, threaded=True)


class RunningServer:
    """The app on a background thread of this process, for tests and in-process tools (the
    production server is :func:`serve`)::

    with RunningServer(model_dir, endpoint_name="x") as server:
        ...  # server.url
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        endpoint_name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        nthread: int = 1,
    ) -> None:
        self._server = build_server(
            model_dir, host=host, port=port, endpoint_name=endpoint_name, nthread=nthread
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="model-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> RunningServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
