"""Give Spark back the batch it committed while the sink was still writing it (ADR 0017).

The sink runs one micro-batch behind Spark (:mod:`processor.sink_pipeline`): ``foreachBatch``
hands batch N to the sink's thread and returns, so Spark writes N's commit and plans N + 1
while N is scored and written. A process that dies meanwhile leaves a checkpoint whose last
commit the sink never finished. Before the query starts, this module compares the two records
and, when the sink is one batch short, deletes that commit (and the offsets of any batch
planned after it, which the sink never started), so Spark runs the batch again from the same
offsets; the sink's writes are idempotent per batch (ADR 0010), so a half-written batch is
completed, not duplicated.

Every batch the sink finishes leaves a log in its state folder (``SinkStore.last_batch``).
Checkpoints written before this design never let Spark commit ahead of the sink, and their
empty batches left no log, so the comparison is only made once the state folder carries
:data:`MARKER`, written here at the first start of this design.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from fraudstream import aws
from fraudstream.errors import FraudstreamError
from fraudstream.lake.tables import SPARK_QUERY_FOLDER
from fraudstream.settings import Settings
from processor.sink_state import SinkStore
from processor.state_folder import StateFolder

log = logging.getLogger(__name__)

MARKER = "sink-runs-one-batch-behind"
"""In the sink's state folder: its logs say which batches it finished (ADR 0017)."""


class CheckpointMismatchError(FraudstreamError):
    """Spark's checkpoint and the sink's state do not belong to the same run."""


@dataclass(frozen=True)
class Rewind:
    """What to delete from Spark's checkpoint: the commit the sink did not finish, and the
    offsets of the batches planned after it."""

    commit: int
    offsets: tuple[int, ...]


def plan(committed: list[int], planned: list[int], finished: int | None) -> Rewind | None:
    """The rewind that makes Spark re-run the batch the sink did not finish, or None.

    ``committed`` and ``planned`` are the batch ids of Spark's commit and offset logs,
    ``finished`` the sink's last finished batch. The sink is at most one batch behind; more
    means the two folders come from different runs, which is refused rather than guessed at.
    """
    if not committed:
        return None
    last = max(committed)
    done = -1 if finished is None else finished
    if done >= last:
        return None
    if done < last - 1:
        raise CheckpointMismatchError(
            f"Spark's checkpoint committed batch {last} but the sink's state ends at "
            f"{'no batch' if finished is None else f'batch {finished}'}: they are not from the "
            "same run (a state folder restored or removed on its own?). Restore both, or "
            "remove both to start again"
        )
    return Rewind(last, tuple(sorted(b for b in planned if b > last)))


def _query_folder(settings: Settings, name: str) -> StateFolder | None:
    """``<checkpoint>/query/<name>`` of Spark's checkpoint; None when it has no such folder
    (a local checkpoint Spark has not written yet: a folder is not created here)."""
    location = f"{settings.checkpoint_dir.rstrip('/')}/{SPARK_QUERY_FOLDER}/{name}"
    if aws.s3_location(location) is None and not Path(location.removeprefix("file:")).is_dir():
        return None
    return StateFolder(location.removeprefix("file:"), settings)


def _ids(folder: StateFolder | None) -> list[int]:
    return sorted(int(n) for n in folder.names() if n.isdigit()) if folder else []


def _delete(folder: StateFolder, batch_id: int) -> None:
    """A log entry and the checksum Hadoop's local filesystem writes beside it."""
    folder.delete(str(batch_id))
    folder.delete(f".{batch_id}.crc")


def rewind(settings: Settings, store: SinkStore) -> Rewind | None:
    """Compare Spark's checkpoint with the sink's state and rewind Spark where the sink is a
    batch short (see the module docstring); what was rewound, or None."""
    if MARKER not in store.folder.names():
        store.folder.write(MARKER, b"ADR 0017: every finished batch leaves a log\n")
        return None
    commits, offsets = _query_folder(settings, "commits"), _query_folder(settings, "offsets")
    planned = _ids(offsets)
    step = plan(_ids(commits), planned, store.last_batch())
    if step is None:
        return None
    assert commits is not None
    for batch_id in step.offsets:
        assert offsets is not None
        _delete(offsets, batch_id)
    _delete(commits, step.commit)
    log.warning(
        "Spark committed batch %d but the sink had not finished it when the processor "
        "stopped: batch %d runs again from the same offsets%s",
        step.commit,
        step.commit,
        f" (planned batch(es) {', '.join(map(str, step.offsets))} forgotten)"
        if step.offsets
        else "",
    )
    return step
