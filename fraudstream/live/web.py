"""The live dashboard over HTTP: a read-only JSON API and one static page.

Routes (GET and HEAD only; any other method is 405):

- ``/``: the page (``static/index.html`` with ``dashboard.js`` and ``dashboard.css``; no
  external assets, no build step);
- ``/api/summary``: the live numbers; ``/api/alerts``: the newest alerts; ``/api/history``: the
  chart series; ``/api/policy``: the decision policy measured on the lake's labels
  (:mod:`fraudstream.live.policy`; ``{"available": false}`` when not watched).

Secure defaults: binds loopback; the page renders all data with ``textContent`` (alert reasons
are data, never markup) under a Content-Security-Policy that allows only this origin's script,
style and fetches; on a loopback bind, a request whose ``Host`` is not a loopback name is
refused (DNS rebinding would otherwise let a web page read the alerts).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fraudstream.live.collector import Collector
from fraudstream.live.policy import PolicyWatch

log = logging.getLogger(__name__)

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: make them null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _static(name: str) -> bytes:
    return resources.files("fraudstream.live").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: DashboardHTTPServer
    server_version = "fraudstream-dashboard"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _host_allowed(self) -> bool:
        if not self.server.check_host:
            return True
        host = self.headers.get("Host", "")
        name = urlsplit(f"//{host}").hostname or ""
        return is_loopback(name)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, payload: Any, head: bool, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(_finite(payload), allow_nan=False, separators=(",", ":")).encode()
        self._send(status, body, "application/json", head)

    def _get(self, head: bool) -> None:
        if not self._host_allowed():
            self._json({"error": "unexpected Host header"}, head, HTTPStatus.MISDIRECTED_REQUEST)
            return
        path = urlsplit(self.path).path
        if path in STATIC:
            name, content_type = STATIC[path]
            self._send(HTTPStatus.OK, self.server.asset(name), content_type, head)
            return
        snapshot = self.server.collector.snapshot
        if path == "/api/summary":
            self._json(snapshot().summary_json(), head)
        elif path == "/api/alerts":
            self._json(snapshot().alerts_json(), head)
        elif path == "/api/history":
            self._json(snapshot().history_json(), head)
        elif path == "/api/policy":
            watch = self.server.policy
            unwatched = {"available": False, "error": "not watched (--policy-interval 0)"}
            self._json(watch.snapshot() if watch is not None else unwatched, head)
        else:
            self._json({"error": "not found"}, head, HTTPStatus.NOT_FOUND)

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _read_only(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _read_only


class DashboardHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        collector: Collector,
        check_host: bool,
        policy: PolicyWatch | None = None,
    ) -> None:
        self.collector = collector
        self.policy = policy
        self.check_host = check_host
        self._assets: dict[str, bytes] = {}
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def asset(self, name: str) -> bytes:
        if name not in self._assets:
            self._assets[name] = _static(name)
        return self._assets[name]


class DashboardServer:
    """Serves the dashboard of ``collector`` (and of ``policy``, when given) on ``host:port``
    (port 0: any free port). ``start()`` serves on a background thread until ``stop()``."""

    def __init__(
        self,
        collector: Collector,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        policy: PolicyWatch | None = None,
    ) -> None:
        self.collector = collector
        self._server = DashboardHTTPServer(
            (host, port), collector, check_host=is_loopback(host), policy=policy
        )
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> DashboardServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dashboard-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
