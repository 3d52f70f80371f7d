"""Post a JSON message to a webhook with the stdlib's urllib, retrying as :mod:`.retry` says.

One :meth:`Webhook.post` is one HTTP request and never raises for an HTTP or network failure:
it returns what happened, so :meth:`Webhook.deliver` can decide. Redirects are not followed
(urllib would turn a redirected POST into a GET and lose the body). The URL is a secret (anyone
holding a Slack webhook URL can post to the channel), so it never appears in logs or errors:
it is checked before use (:func:`fraudstream.addresses.webhook_url_problem`: HTTPS, or HTTP to
loopback only; no credentials; no link-local or metadata address), and any error text or
response body that repeats it, or its path or query, is redacted before it is kept.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fraudstream import __version__
from fraudstream.addresses import webhook_url_problem
from fraudstream.alerting.retry import RetryPolicy, Verdict, parse_retry_after

log = logging.getLogger(__name__)

MAX_ERROR_TEXT = 300  # characters of a response body kept for the record


@dataclass(frozen=True)
class Attempt:
    """The outcome of one POST: a status (and body), or no response and why."""

    status: int | None
    body: str = ""
    retry_after: float | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.status is None:
            return f"no response ({self.error})"
        return f"HTTP {self.status}" + (f": {self.body}" if self.body else "")


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one message, retries included."""

    verdict: Verdict
    attempts: int
    status: int | None = None
    detail: str = ""

    @property
    def delivered(self) -> bool:
        return self.verdict is Verdict.DELIVERED


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


class Webhook:
    """A Slack-compatible incoming webhook."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        problem = webhook_url_problem(url)
        if problem:
            raise ValueError(f"webhook URL {problem}")
        self._url = url
        parts = urllib.parse.urlsplit(url)
        # Longest first, so the whole URL is replaced before its path is.
        secrets = {url, parts.path, parts.query, urllib.parse.unquote(parts.path)}
        self._secrets = sorted((s for s in secrets if len(s) > 1), key=len, reverse=True)
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.rng = rng
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        return "Webhook(url=<secret>)"

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<secret>")
        return text

    def post(self, payload: Mapping[str, Any], key: str | None = None) -> Attempt:
        """POST ``payload`` once. ``key`` goes out as ``Idempotency-Key`` for receivers that
        de-duplicate (Slack ignores it; a relay or a custom receiver may use it)."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"fraudstream-notifier/{__version__}",
        }
        if key:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(  # noqa: S310 - URL checked in __init__
            self._url, data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_ERROR_TEXT).decode("utf-8", "replace")
                return Attempt(status=response.status, body=self._redact(body.strip()))
        except urllib.error.HTTPError as error:
            body = error.read(MAX_ERROR_TEXT).decode("utf-8", "replace") if error.fp else ""
            retry_after = parse_retry_after(error.headers.get("Retry-After"))
            error.close()
            return Attempt(
                status=error.code, body=self._redact(body.strip()), retry_after=retry_after
            )
        except urllib.error.URLError as error:
            return Attempt(status=None, error=self._redact(str(error.reason)))
        # timeouts, resets, a bad status line, a URL http.client refuses
        except (OSError, http.client.HTTPException, ValueError) as error:
            return Attempt(status=None, error=self._redact(f"{type(error).__name__}: {error}"))

    def deliver(self, payload: Mapping[str, Any], key: str | None = None) -> Delivery:
        """Post until delivered, refused for good, or out of attempts; sleeps between tries."""
        attempt_number = 0
        while True:
            attempt_number += 1
            attempt = self.post(payload, key)
            decision = self.policy.decide(
                attempt_number, attempt.status, attempt.retry_after, self.rng
            )
            if decision.verdict is not Verdict.RETRY:
                return Delivery(
                    verdict=decision.verdict,
                    attempts=attempt_number,
                    status=attempt.status,
                    detail=attempt.describe(),
                )
            log.warning(
                "webhook attempt %d of %d for %s failed (%s); retrying in %.1fs",
                attempt_number,
                self.policy.max_attempts,
                key or "message",
                attempt.describe(),
                decision.delay,
            )
            self.sleep(decision.delay)
