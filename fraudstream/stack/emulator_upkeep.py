"""Keep the emulator's own cost flat over a long run (the soak, a laptop left running).

moto keeps every Kinesis record and S3 object as Python objects: at 1,000 transactions/s the
emulator's heap gains ~60,000 objects the garbage collector tracks per minute, and each full
(generation 2) collection walks all of them, stopping every request meanwhile. Measured in a
soak, the pause grew with the heap, 0.14 s at 200,000 objects to 0.46 s at 730,000 (0.6 µs
per object: ~2 s after an hour), and each one stalled the pipeline's reads and lake commits
(docs/reliability.md, "Soak"). :class:`PeriodicFreeze` moves what survives a collection to
the collector's permanent generation every minute, so a collection walks only the last
minute's objects. :class:`FailedRequestsOnly` keeps the request log to the requests that
failed: writing a line per request was 9 % of the emulator's CPU in the same profile.
"""

from __future__ import annotations

import gc
import logging
import threading

log = logging.getLogger(__name__)


class PeriodicFreeze:
    """Every ``every_s`` seconds: a full collection (the garbage of the last interval goes
    first), then :func:`gc.freeze`.

    Frozen objects are skipped by the collector, not kept alive: reference counting still frees
    them. Only a reference cycle frozen while reachable and dropped later stays in memory; the
    emulator's stored records and objects are not cyclic, and it deletes few of them.
    """

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heap-freeze", daemon=True)

    def tick(self) -> int:
        """Collect, freeze; the number of objects frozen so far."""
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            log.debug("emulator heap: %d objects frozen", self.tick())

    def start(self) -> PeriodicFreeze:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class FailedRequestsOnly(logging.Filter):
    """Passes werkzeug's request lines only for status codes of 400 and above (and every record
    that is not a request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.levelno != logging.INFO or not isinstance(args, tuple) or len(args) < 2:
            return True
        code = str(args[1])
        return not (code.isdigit() and int(code) < 400)
