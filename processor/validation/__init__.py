"""Validate raw Kinesis payloads against the event contract, a batch at a time, in Arrow.

Public API: :func:`validate_events` and :func:`validate_labels`
(:mod:`processor.validation.arrow`), which the Spark source runs in its ``read()``; the
per-record reference lives in :mod:`fraudstream.events` and :mod:`.fallback`.
"""

from processor.validation.arrow import EVENTS_OUT, LABELS_OUT, validate_events, validate_labels

__all__ = ["EVENTS_OUT", "LABELS_OUT", "validate_events", "validate_labels"]
