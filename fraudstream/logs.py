"""Logging set-up shared by every command: one line per record, UTC timestamps."""

from __future__ import annotations

import logging
import time


def configure(level: str = "INFO") -> None:
    """Configure the root logger once; quiet chatty libraries."""
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    root = logging.getLogger()
    if not any(getattr(h, "_fraudstream", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(formatter)
        handler._fraudstream = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "py4j", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
