"""Promote a challenger: its artifact becomes the champion's folder, the old one kept beside.

The new folder is copied in beside the champion's first, then two renames on one filesystem
swap them: a reader finds the old model, the new one, or for an instant none (the model server
retries a missing model every 5 s), never a half-copied one. The old champion stays in
``<folder>.previous`` to roll back the same way. Processes that hold the model in memory (the
processor's fallback, ``serve-model``) load the new one when they next start; on AWS the
endpoint switches with ``fraudstream model deploy`` (``UpdateEndpoint``: the new variant takes
traffic only once healthy, no downtime).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ml_model.artifact import load_model, model_available, read_manifest
from ml_model.errors import ArtifactError


def promote(champion_dir: Path, challenger_dir: Path) -> tuple[str | None, str]:
    """Make ``challenger_dir``'s model the one in ``champion_dir``; (old version or None, new
    version). Refuses a challenger that does not load or was trained on other features."""
    challenger = load_model(challenger_dir)
    old: str | None = None
    if model_available(champion_dir):
        manifest = read_manifest(champion_dir)
        old = str(manifest.get("version"))
        if list(manifest.get("feature_names", [])) != challenger.feature_names:
            raise ArtifactError(
                f"challenger {challenger.version} has other features than the champion {old}"
            )
    champion_dir = champion_dir.resolve()
    staging = champion_dir.with_name(f".{champion_dir.name}.incoming")
    previous = champion_dir.with_name(f"{champion_dir.name}.previous")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(challenger_dir, staging)
    if champion_dir.exists():
        shutil.rmtree(previous, ignore_errors=True)
        champion_dir.rename(previous)
    staging.rename(champion_dir)
    return old, challenger.version
