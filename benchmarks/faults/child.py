"""The processor as the fault suite runs it: ``python -m benchmarks.faults.child LOG``.

The real job (:func:`processor.streaming_job.start`, settings from ``FRAUDSTREAM_*``) in its
own process, so a scenario can ``kill -9`` it; its ``on_batch`` callback appends each committed
batch's summary to ``LOG`` (see :mod:`.progress`). ``LOG.started`` appears once the query runs.
SIGTERM or SIGINT stop the query between batches, as in :func:`processor.streaming_job.run`.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from benchmarks.faults.progress import Batch
from fraudstream import logs
from fraudstream.settings import load_settings
from processor.metrics import BatchSummary
from processor.streaming_job import start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="file to append one JSON line per batch to")
    args = parser.parse_args(argv)
    settings = load_settings()
    logs.configure(settings.log_level)
    log = args.log.open("a", buffering=1)  # line-buffered: each batch reaches the file at once

    def record(summary: BatchSummary) -> None:
        log.write(Batch.from_summary(summary, at=time.time(), pid=os.getpid()).to_json() + "\n")

    handle = start(settings, on_batch=record)

    def stop(signum: int, frame: FrameType | None) -> None:
        # Not from the handler itself: the main thread is inside a Py4J call
        # (awaitTermination), and a second call on its socket from here fails as reentrant.
        threading.Thread(target=handle.stop, name="stop-query", daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    args.log.with_suffix(".started").write_text(str(os.getpid()))
    handle.query.awaitTermination()
    if handle.query.exception() is not None and not handle.stopped.is_set():
        raise SystemExit(f"the streaming query failed: {handle.query.exception()}")


if __name__ == "__main__":
    main()
