"""A circuit breaker: stop calling an endpoint that keeps failing, probe it again later.

closed -> (``failure_threshold`` consecutive failures) -> open -> (after ``reset_seconds``) ->
half-open: one trial call is let through; success closes the circuit, failure re-opens it.
The clock is injectable so tests step time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_seconds < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_seconds >= 0")
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self.opened_count = 0

    @property
    def state(self) -> State:
        with self._lock:
            self._tick()
            return self._state

    def _tick(self) -> None:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_seconds:
            self._state = "half_open"
            self._trial_running = False

    def allow(self) -> bool:
        """May a call go to the endpoint now? (In half-open, only one trial at a time.)"""
        with self._lock:
            self._tick()
            if self._state == "closed":
                return True
            if self._state == "half_open" and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == "half_open" or self._failures >= self.failure_threshold:
                if self._state != "open":
                    self.opened_count += 1
                self._state = "open"
                self._opened_at = self._clock()
                self._trial_running = False
