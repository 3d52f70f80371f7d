"""A real webhook receiver on 127.0.0.1: records every POST, and can be told to answer the next
N requests with an error status (and a Retry-After header) before answering 200 again."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import free_port


@dataclass
class Post:
    body: dict[str, Any]
    headers: dict[str, str]
    answered: int


@dataclass
class _Plan:
    failures: list[tuple[int, str | None]] = field(default_factory=list)  # (status, Retry-After)
    always: int | None = None  # answer every request with this status


class Receiver:
    """``posts`` holds every request received (answered with any status); ``delivered`` only
    those answered 2xx, i.e. the messages a Slack channel would show."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.echo_path = False  # error answers repeat the request path (the secret)
        self._plan = _Plan()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, retry_after = receiver._next_status()
                with receiver._lock:
                    receiver.posts.append(Post(body, dict(self.headers.items()), status))
                text = b"ok" if status == 200 else b"invalid_payload" if status == 400 else b"no"
                if status != 200 and receiver.echo_path:  # as some receivers' error pages do
                    text = f"no such hook {self.path}".encode()
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/secret"

    def fail_next(self, count: int, status: int = 500, retry_after: str | None = None) -> None:
        with self._lock:
            self._plan.failures.extend([(status, retry_after)] * count)

    def answer_always(self, status: int | None) -> None:
        with self._lock:
            self._plan.always = status

    def _next_status(self) -> tuple[int, str | None]:
        with self._lock:
            if self._plan.always is not None:
                return self._plan.always, None
            if self._plan.failures:
                return self._plan.failures.pop(0)
            return 200, None

    @property
    def delivered(self) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if 200 <= p.answered <= 299]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
