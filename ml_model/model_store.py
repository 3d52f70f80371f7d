"""Model folders in S3, for jobs that keep no disk: the retraining CronJob on EKS pulls the
champion from ``s3://<bucket>/models/champion/`` and pushes a challenger it registers to
``s3://<bucket>/models/challenger/`` (docs/model.md, "Retraining on EKS").

A model folder is what :mod:`ml_model.artifact` reads: ``model.tar.gz`` and the
``manifest.json`` beside it. The S3 client is passed in (``fraudstream.aws.client("s3", ...)``),
so the same code talks to AWS and to the local emulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml_model.artifact import ARCHIVE, MANIFEST_FILE
from ml_model.errors import ArtifactError

#: Uploaded in this order: a reader that finds the new manifest finds its archive too (the
#: manifest's checksum would refuse an old one).
FILES = (ARCHIVE, MANIFEST_FILE)


def is_s3(location: str | Path) -> bool:
    return str(location).startswith("s3://")


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/models/champion`` -> (``bucket``, ``models/champion/``)."""
    if not is_s3(url):
        raise ArtifactError(f"{url!r} is not an s3:// URL")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket or not prefix.strip("/"):
        raise ArtifactError(f"{url!r} names no folder: use s3://<bucket>/<prefix>/")
    return bucket, prefix.strip("/") + "/"


def _code(error: Exception) -> str:
    return str((getattr(error, "response", {}) or {}).get("Error", {}).get("Code", ""))


def pull(s3: Any, url: str, folder: Path) -> Path:
    """Download the model folder at ``url`` into ``folder`` (created); returns ``folder``."""
    from botocore.exceptions import ClientError

    bucket, prefix = split_url(url)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        try:
            s3.download_file(bucket, prefix + name, str(folder / name))
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "403", "AccessDenied"):
                raise ArtifactError(
                    f"no model at {url} (s3://{bucket}/{prefix}{name}: {_code(error)})"
                ) from error
            raise
    return folder


def push(s3: Any, folder: Path, url: str) -> list[str]:
    """Upload the model in ``folder`` to ``url``; returns the object URLs written."""
    bucket, prefix = split_url(url)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise ArtifactError(f"{folder} lacks {', '.join(missing)}: not a model folder")
    written = []
    for name in FILES:
        s3.upload_file(str(folder / name), bucket, prefix + name)
        written.append(f"s3://{bucket}/{prefix}{name}")
    return written
