"""The model artifact: ``model.tar.gz`` in the SageMaker XGBoost layout, plus its manifest.

Layout written to the model folder::

    model.tar.gz
        xgboost-model              the booster (XGBoost UBJSON), at the archive root
        fraudstream/manifest.json  the manifest (in a sub-folder: see below)
        fraudstream/anomaly-model  the anomaly detector's compiled forest (XGBoost UBJSON;
                                   :mod:`ml_model.anomaly`), when training fitted one
    manifest.json                  the same manifest plus the archive's sha256

The SageMaker XGBoost container extracts the archive into ``/opt/ml/model`` and loads every
*file* at the top level as a booster (an ensemble when there are several), so the archive's
root holds only ``xgboost-model``; the manifest and the anomaly detector sit in a sub-folder
that the container skips. Our own server and the scoring client's fallback read them; the
anomaly detector scores in the processor, beside the decisions (:mod:`processor.batch_sink`).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ml_model.anomaly.detector import AnomalyDetector
from ml_model.errors import ArtifactError
from ml_model.features.schema import FEATURE_DESCRIPTIONS, FEATURE_NAMES, FeatureConfig
from ml_model.training.thresholds import Thresholds

ARCHIVE = "model.tar.gz"
BOOSTER_FILE = "xgboost-model"
MANIFEST_FILE = "manifest.json"
ARCHIVE_MANIFEST = "fraudstream/manifest.json"
ANOMALY_FILE = "fraudstream/anomaly-model"
MODEL_NAME = "fraudstream-xgboost"
_FEATURES_DIR = Path(__file__).resolve().parent / "features"


def features_code_hash() -> str:
    """sha256 over the feature code's source files: the stream can check it runs the same code
    the model was trained with."""
    digest = hashlib.sha256()
    for path in sorted(_FEATURES_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def code_version() -> dict[str, Any]:
    """Which code trained the model: package version, git commit (if any) and feature hash."""
    from fraudstream import __version__

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
                cwd=_FEATURES_DIR,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", ".") if commit else None
    return {
        "package": __version__,
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "features_sha256": features_code_hash(),
    }


def new_version(booster_bytes: bytes, now: datetime | None = None) -> str:
    """``YYYYmmddTHHMMSSZ-<8 hex of the booster>``: sortable and tied to the content."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{hashlib.sha256(booster_bytes).hexdigest()[:8]}"


def booster_bytes(booster: Any) -> bytes:
    return bytes(booster.save_raw(raw_format="ubj"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _add(archive: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mode = 0o644
    info.mtime = 0  # reproducible archives: same content, same bytes
    archive.addfile(info, io.BytesIO(payload))


def write_artifact(
    booster: Any,
    manifest: dict[str, Any],
    folder: str | Path,
    anomaly: AnomalyDetector | None = None,
) -> Path:
    """Write ``model.tar.gz`` and ``manifest.json`` into ``folder``; return the archive path.
    The manifest records the ``anomaly`` detector's threshold (``anomaly``), which the stream
    and the offline study both apply."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    raw = booster_bytes(booster)
    manifest = {**manifest, "booster_file": BOOSTER_FILE}
    if anomaly is not None:
        manifest["anomaly"] = {**anomaly.describe(), "file": ANOMALY_FILE}
    archive_path = out / ARCHIVE
    tmp = archive_path.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz") as archive:
        _add(archive, BOOSTER_FILE, raw)
        _add(archive, ARCHIVE_MANIFEST, json.dumps(manifest, indent=2).encode())
        if anomaly is not None:
            _add(archive, ANOMALY_FILE, booster_bytes(anomaly.booster))
    tmp.replace(archive_path)
    outer = {**manifest, "artifact": {"file": ARCHIVE, "sha256": _sha256(archive_path)}}
    (out / MANIFEST_FILE).write_text(json.dumps(outer, indent=2) + "\n")
    return archive_path


@dataclass
class ModelBundle:
    """A loaded booster with its manifest (and anomaly detector, when the model has one);
    safe to share between threads."""

    booster: Any
    manifest: dict[str, Any]
    source: str
    anomaly: AnomalyDetector | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", "unknown"))

    @property
    def feature_names(self) -> list[str]:
        return list(self.manifest.get("feature_names", FEATURE_NAMES))

    @property
    def feature_count(self) -> int:
        return len(self.feature_names)

    @property
    def thresholds(self) -> Thresholds | None:
        data = self.manifest.get("thresholds")
        return Thresholds.from_dict(data) if data else None

    @property
    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_dict(self.manifest.get("feature_config", {}))

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Fraud probability per row (float64)."""
        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.feature_count:
            raise ValueError(f"expected rows of {self.feature_count} features")
        if len(rows) == 0:
            return np.zeros(0)
        return np.asarray(self.booster.inplace_predict(rows), dtype=np.float64)

    def contributions(self, matrix: np.ndarray, *, exact: bool = False) -> np.ndarray:
        """Per-row, per-feature contributions to the log-odds (last column: bias).

        By default the path attribution of each tree (Saabas; XGBoost's ``approx_contribs``),
        ~60x cheaper than exact TreeSHAP (~5 against ~330 µs a row) and, like it, summing to
        the log-odds; its top feature matches TreeSHAP's on most rows (tests/ml_model). Reason
        codes need that ranking, not Shapley values' fairness guarantees; ``exact=True`` gives
        TreeSHAP."""
        import xgboost as xgb

        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        # nthread=1: the default threads cost ~4 ms of CPU per DMatrix for a few dozen rows
        dmatrix = xgb.DMatrix(rows, feature_names=self.feature_names, nthread=1)
        with self._lock:  # DMatrix-based predict: keep one at a time per booster
            return np.asarray(
                self.booster.predict(dmatrix, pred_contribs=True, approx_contribs=not exact)
            )


Read = tuple[bytes, dict[str, Any] | None, bytes | None]
"""(booster, manifest, anomaly detector) as stored."""


def _read_archive(path: Path) -> Read:
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {m.name.lstrip("./"): m for m in archive.getmembers() if m.isfile()}
            if BOOSTER_FILE not in members:
                raise ArtifactError(f"{path}: no {BOOSTER_FILE} at the archive root")
            raw = archive.extractfile(members[BOOSTER_FILE]).read()  # type: ignore[union-attr]
            manifest = None
            if ARCHIVE_MANIFEST in members:
                text = archive.extractfile(members[ARCHIVE_MANIFEST]).read()  # type: ignore[union-attr]
                manifest = json.loads(text)
            anomaly = None
            if ANOMALY_FILE in members:
                anomaly = archive.extractfile(members[ANOMALY_FILE]).read()  # type: ignore[union-attr]
    except (OSError, tarfile.TarError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path}: unreadable model archive ({error})") from error
    return raw, manifest, anomaly


def _read_extracted(folder: Path) -> Read:
    """The layout SageMaker gives a container: the archive extracted into a folder."""
    manifest = None
    for candidate in (folder / ARCHIVE_MANIFEST, folder / MANIFEST_FILE):
        if candidate.is_file():
            try:
                manifest = json.loads(candidate.read_text())
            except json.JSONDecodeError as error:
                raise ArtifactError(f"{candidate}: not valid JSON ({error})") from error
            break
    anomaly = folder / ANOMALY_FILE
    return (
        (folder / BOOSTER_FILE).read_bytes(),
        manifest,
        anomaly.read_bytes() if anomaly.is_file() else None,
    )


def _locate(location: str | Path) -> Path:
    path = Path(location)
    if path.is_dir() and (path / ARCHIVE).is_file():
        return path / ARCHIVE
    if path.is_dir() and (path / BOOSTER_FILE).is_file():
        return path
    if path.is_file():
        return path
    raise ArtifactError(
        f"no model at {path} (train one with `fraudstream train` or set FRAUDSTREAM_MODEL_DIR)"
    )


def model_available(location: str | Path) -> bool:
    try:
        _locate(location)
    except ArtifactError:
        return False
    return True


def read_manifest(location: str | Path) -> dict[str, Any]:
    """A model's manifest without loading its booster (no xgboost needed): the
    ``manifest.json`` beside the archive, else the one inside it."""
    found = _locate(location)
    beside = (found if found.is_dir() else found.parent) / MANIFEST_FILE
    if beside.is_file():
        try:
            manifest: dict[str, Any] = json.loads(beside.read_text())
        except json.JSONDecodeError as error:
            raise ArtifactError(f"{beside}: not valid JSON ({error})") from error
        return manifest
    _, inner, _ = _read_extracted(found) if found.is_dir() else _read_archive(found)
    if inner is None:
        raise ArtifactError(f"{found}: no manifest in the archive or beside it")
    return inner


def load_model(location: str | Path, *, nthread: int = 1) -> ModelBundle:
    """Load a model from a folder holding ``model.tar.gz`` (checked against the manifest beside
    it), from the archive itself, or from the archive extracted (SageMaker's ``/opt/ml/model``).
    """
    import xgboost as xgb

    found = _locate(location)
    if found.is_dir():
        raw, manifest, anomaly = _read_extracted(found)
    else:
        raw, manifest, anomaly = _read_archive(found)
        outer = found.parent / MANIFEST_FILE
        if outer.is_file():
            try:
                outer_manifest = json.loads(outer.read_text())
            except json.JSONDecodeError as error:
                raise ArtifactError(f"{outer}: not valid JSON ({error})") from error
            expected = outer_manifest.get("artifact", {}).get("sha256")
            if expected and expected != _sha256(found):
                raise ArtifactError(f"{found} does not match the checksum in {outer}")
            manifest = manifest or outer_manifest
    if manifest is None:
        raise ArtifactError(f"{found}: no manifest in the archive or beside it")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as error:
        raise ArtifactError(f"{found}: the booster does not load ({error})") from error
    booster.set_param({"nthread": nthread})
    bundle = ModelBundle(
        booster=booster,
        manifest=manifest,
        source=str(found),
        anomaly=_anomaly(found, anomaly, manifest),
    )
    if booster.num_features() != bundle.feature_count:
        raise ArtifactError(
            f"{found}: booster has {booster.num_features()} features, manifest lists "
            f"{bundle.feature_count}"
        )
    return bundle


def _anomaly(found: Path, raw: bytes | None, manifest: dict[str, Any]) -> AnomalyDetector | None:
    """The anomaly detector stored with the model, with the threshold its manifest records;
    None for a model trained without one."""
    import xgboost as xgb

    described = manifest.get("anomaly")
    if raw is None or not described:
        return None
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as error:
        raise ArtifactError(f"{found}: the anomaly detector does not load ({error})") from error
    booster.set_param({"nthread": 1})
    return AnomalyDetector(
        booster,
        float(described["threshold"]),
        float(described.get("share", 0.0)),
        int(described.get("trees", 0)),
        int(described.get("max_samples", 0)),
        tuple(float(v) for v in described.get("tail", ())),
    )


def feature_descriptions(names: list[str]) -> dict[str, str]:
    return {name: FEATURE_DESCRIPTIONS.get(name, name.replace("_", " ")) for name in names}
