"""A process committing batches to the lake's transactions table under its own query id, as one
cell of several does (tests/processor/sinks/test_lake_processes.py starts two at once).

    python -m tests.processor.sinks.lake_writer_child <query id> <batches>

Settings come from the environment; each batch is three rows with ids of this query and batch.
Prints one JSON line per batch: the version it committed at, or that it was already there.
"""

from __future__ import annotations

import json
import logging
import sys

from fraudstream.settings import load_settings
from processor.sinks.lake import LakeWriter
from tests.processor.sinks.rows import transactions


def main(query: str, batches: int) -> None:
    logging.basicConfig(level=logging.INFO)  # the writer logs each race it lost
    settings = load_settings()
    with LakeWriter(settings, query=query) as writer:
        for batch in range(batches):
            rows = transactions(3)
            rows["transaction_id"] = [f"{query}-{batch}-{n}" for n in range(3)]
            result = writer.write("transactions", batch, rows)
            print(json.dumps({"batch": batch, "commits": result.commits}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
