"""A streaming query run as its own process, so a test can ``kill -9`` it mid-stream.

Writes each micro-batch to ``<out>/batch-<id>.json`` (write then rename: a replayed batch
overwrites its file, an idempotent sink). ``--pause`` sleeps after writing, before Spark commits
the batch, which gives the test a window where the batch is planned but not committed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-records", default="400")
    parser.add_argument("--available-now", action="store_true")
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from processor.kinesis import register

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    register(spark)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def sink(frame: Any, batch_id: int) -> None:
        rows = [
            {
                "id": json.loads(bytes(r["data"]))["id"],
                "shard": r["shard_id"],
                "seq": r["sequence_number"],
                "sub": r["sub_sequence_number"],
            }
            for r in frame.collect()
        ]
        tmp = out / f".batch-{batch_id:06d}.tmp"
        tmp.write_text(json.dumps(rows))
        os.replace(tmp, out / f"batch-{batch_id:06d}.json")
        if args.pause:
            time.sleep(args.pause)

    frame = (
        spark.readStream.format("kinesis")
        .option("streamName", args.stream)
        .option("endpointUrl", args.endpoint)
        .option("region", "us-east-1")
        .option("startingPosition", "TRIM_HORIZON")
        .option("maxRecordsPerTrigger", args.max_records)
        .load()
    )
    writer = frame.writeStream.foreachBatch(sink).option("checkpointLocation", args.checkpoint)
    if args.available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime="0 seconds")
    writer.start().awaitTermination()


if __name__ == "__main__":
    main()
