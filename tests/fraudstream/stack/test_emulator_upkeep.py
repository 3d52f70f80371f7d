"""The emulator's upkeep: the periodic freeze takes what lives out of the collector's walk but
still lets reference counting free it, and the request-log filter keeps only failures."""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import Iterator

import pytest

from fraudstream.stack.emulator_upkeep import FailedRequestsOnly, PeriodicFreeze


class Stored:
    """Stands in for a stored record: an object the collector tracks."""


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session walks its heap as before


def test_a_tick_freezes_what_survives_and_the_collector_walks_the_rest(thawed: None) -> None:
    kept = [Stored() for _ in range(50_000)]
    frozen = PeriodicFreeze().tick()
    assert frozen >= len(kept)
    assert sum(len(gc.get_objects(generation)) for generation in range(3)) < frozen
    newer = [Stored() for _ in range(1_000)]
    assert PeriodicFreeze().tick() >= frozen + len(newer)


def test_a_frozen_object_is_still_freed_when_dropped(thawed: None) -> None:
    record = Stored()
    alive = weakref.ref(record)
    PeriodicFreeze().tick()
    del record
    assert alive() is None


def test_the_thread_ticks_until_stopped(thawed: None) -> None:
    freezer = PeriodicFreeze(every_s=0.01).start()
    try:
        kept = [Stored() for _ in range(10_000)]
        deadline = time.monotonic() + 10
        while gc.get_freeze_count() < len(kept) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gc.get_freeze_count() >= len(kept)
    finally:
        freezer.stop()
    assert not freezer._thread.is_alive()


def request_line(code: str) -> logging.LogRecord:
    """A record as werkzeug's request handler logs it."""
    return logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '127.0.0.1 - - [now] "%s" %s %s',
        ("GET /bucket/key HTTP/1.1", code, "-"),
        None,
    )


@pytest.mark.parametrize(
    ("code", "kept"), [("200", False), ("204", False), ("304", False), ("404", True), ("503", True)]
)
def test_request_lines_are_kept_only_for_failures(code: str, kept: bool) -> None:
    assert FailedRequestsOnly().filter(request_line(code)) is kept
