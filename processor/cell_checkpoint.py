"""Refuse to start a cell that would write again what another cell count already wrote.

A cell of ``n`` checkpoints under ``<checkpoint location>/cells/<i>-of-<n>`` (one processor in
the location itself), so a new cell count starts new checkpoints: their state is empty and
they read the streams from ``FRAUDSTREAM_STARTING_POSITION``. From ``TRIM_HORIZON`` (the
default) that is everything Kinesis still holds, which the processors of the old count have
written to the lake already, under other query ids, so the lake would hold those rows twice.
So the location records the cell count that last used it (``cells.json``, written by cells of
several; one processor's checkpoint is its own ``query/metadata``), and a new checkpoint of
another count starting at ``TRIM_HORIZON`` there is refused, saying what to do
(docs/deploy.md, "Cells").
"""

from __future__ import annotations

import json
import logging

from fraudstream.settings import Settings
from processor.errors import ProcessorError
from processor.state_folder import StateFolder

log = logging.getLogger(__name__)

MARKER = "cells.json"


class CellCountError(ProcessorError):
    """A new checkpoint of one cell count where another count's processors ran."""


def problem(recorded: int | None, count: int, fresh: bool, starting_position: str) -> str | None:
    """Why a cell of ``count`` must not start, or ``None``: ``recorded`` is the cell count that
    used the checkpoint location before (``None``: none), ``fresh`` whether this cell's own
    checkpoint is new."""
    if recorded is None or recorded == count or not fresh or starting_position != "TRIM_HORIZON":
        return None
    return (
        f"the checkpoint location was used by {recorded} cell(s), and this processor is a cell "
        f"of {count} (FRAUDSTREAM_HASH_RANGE) with a new checkpoint: reading the streams from "
        "TRIM_HORIZON it would write to the lake again what the old cells wrote. Start the new "
        "cells with FRAUDSTREAM_STARTING_POSITION=LATEST, or with a new "
        "FRAUDSTREAM_CHECKPOINT_LOCATION and a new lake bucket and alerts table "
        "(docs/deploy.md, 'Cells')"
    )


def base_location(settings: Settings) -> str:
    """The checkpoint location every cell count shares."""
    return settings.checkpoint_location or str(settings.state_dir / "checkpoints" / "processor")


def check(settings: Settings) -> None:
    """Raise :class:`CellCountError` per :func:`problem`; record the count of a cell of
    several."""
    base = StateFolder(base_location(settings), settings)
    count = settings.cell.count
    recorded: int | None = None
    if MARKER in base.names():
        recorded = int(json.loads(base.read(MARKER))["cells"])
    elif "metadata" in StateFolder(f"{base.location.rstrip('/')}/query", settings).names():
        recorded = 1
    own = StateFolder(f"{settings.checkpoint_dir.rstrip('/')}/query", settings)
    fresh = "metadata" not in own.names()
    reason = problem(recorded, count, fresh, settings.starting_position)
    if reason is not None:
        raise CellCountError(reason)
    if count > 1 and recorded != count:
        base.write(MARKER, json.dumps({"cells": count}).encode())
        log.info("checkpoint location %s: now used by %d cells", base.location, count)
