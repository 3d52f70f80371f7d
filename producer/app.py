"""Wiring for the producer commands: clients, writers and checks from settings."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

from botocore.exceptions import ClientError

from fraudstream import aws
from fraudstream.errors import ResourceMissingError
from fraudstream.settings import Settings
from producer.kinesis_writer import KinesisWriter
from producer.labels import LabelQueue
from producer.session import ProduceSession


def require_stream(client: Any, name: str) -> None:
    """Fail with a one-line hint when a stream is missing or not ACTIVE."""
    try:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise ResourceMissingError(
                f"Kinesis stream {name!r} does not exist; create it with `fraudstream stack up` "
                "(local) or Terraform (AWS)"
            ) from error
        raise
    if summary["StreamStatus"] not in ("ACTIVE", "UPDATING"):
        raise ResourceMissingError(f"Kinesis stream {name!r} is {summary['StreamStatus']}")


def open_session(
    settings: Settings, label_delay: timedelta, *, aggregate: bool = True
) -> ProduceSession:
    """A session writing to the configured events and labels streams (both must exist).

    ``aggregate`` packs events (and labels) into KPL aggregated records, one per shard per
    flush (see :mod:`producer.kinesis_writer`); off, every event is its own Kinesis record.
    """
    client = aws.client("kinesis", settings, max_attempts=1, max_pool_connections=8)
    require_stream(client, settings.stream_name)
    require_stream(client, settings.labels_stream_name)
    return ProduceSession(
        KinesisWriter(client, settings.stream_name, aggregate=aggregate),
        KinesisWriter(client, settings.labels_stream_name, aggregate=aggregate),
        LabelQueue(label_delay),
    )


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """First Ctrl-C asks the loop to stop (it then flushes); a second one aborts at once."""
    requested = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
