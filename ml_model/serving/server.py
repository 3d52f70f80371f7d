"""Run the model server: in the foreground (``fraudstream serve-model``) or in a thread.

One process, a thread per connection (werkzeug's threaded server); the booster is loaded once
and shared, which is safe because scoring uses XGBoost's thread-safe in-place prediction. For
more throughput run one process per core behind the load balancer (SageMaker runs one
container per instance).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, make_server

from ml_model.serving.app import create_app

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080


def build_server(
    model_dir: str | Path, *, host: str, port: int, endpoint_name: str, nthread: int = 1
) -> BaseWSGIServer:
    app = create_app(model_dir, endpoint_name=endpoint_name, nthread=nthread)
    return make_server(host, port, app, threaded=True)


def serve(
    model_dir: str | Path, *, host: str, port: int, endpoint_name: str, nthread: int = 1
) -> None:
    """Serve until interrupted."""
    server = build_server(
        model_dir, host=host, port=port, endpoint_name=endpoint_name, nthread=nthread
    )
    log.info("model server on http://%s:%d (endpoint %s)", host, server.port, endpoint_name)
    try:
        server.serve_forever()
    finally:
        server.server_close()


class RunningServer:
    """The server on a background thread (tests, benchmarks, the local stack)::

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
