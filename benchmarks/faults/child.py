"""The processor as the fault suite runs it: ``python -m benchmarks.faults.child LOG``.

The real job (:func:`processor.streaming_job.run`, settings from ``FRAUDSTREAM_*``) in its
own process, so a scenario can ``kill -9`` it; its ``on_batch`` callback appends each committed
batch's summary to ``LOG`` (see :mod:`.progress`). ``LOG.started`` appears once the query runs.
SIGTERM or SIGINT stop the query between batches (``run``'s own handlers).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from benchmarks.faults.progress import Batch
from fraudstream import logs
from fraudstream.errors import FraudstreamError
from fraudstream.settings import load_settings
from processor.metrics import BatchSummary
from processor.streaming_job import JobHandle, run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="file to append one JSON line per batch to")
    args = parser.parse_args(argv)
    settings = load_settings()
    logs.configure(settings.log_level)
    log = args.log.open("a", buffering=1)  # line-buffered: each batch reaches the file at once

    def record(summary: BatchSummary) -> None:
        log.write(Batch.from_summary(summary, at=time.time(), pid=os.getpid()).to_json() + "\n")

    def started(_handle: JobHandle) -> None:
        args.log.with_suffix(".started").write_text(str(os.getpid()))

    try:
        run(settings, on_batch=record, on_started=started)
    except FraudstreamError as error:
        raise SystemExit(str(error)) from error


if __name__ == "__main__":
    main()
