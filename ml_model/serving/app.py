"""Flask routes of the model server (thin: parsing and scoring live elsewhere).

* ``GET /ping``: 200 when a model is loaded, else 503 (SageMaker's health check).
* ``POST /invocations``: the container contract.
* ``POST /endpoints/<name>/invocations``: the SageMaker runtime API path, so a boto3
  ``sagemaker-runtime`` client with ``endpoint_url`` pointing here works unchanged.
* ``GET /manifest``: the loaded model's manifest (version, features, thresholds).

One status per failing stage: 415 unparsable body or unsupported type, 400 wrong feature
count or a body that ended early, 408 a body that stalled, 406 unsupported ``Accept``, 413
body over 6 MiB (declared or chunked: :mod:`.body`), 503 no model. Malformed input never gets
a 5xx. On the runtime path errors are JSON with an ``x-amzn-ErrorType`` header so botocore
raises ``ClientError`` with a code (``ModelError`` for payload problems,
``ServiceUnavailable``, ``ValidationError`` for an unknown endpoint name or a body refused
before parsing), keeping the same HTTP status.

Every successful answer carries ``X-Amzn-SageMaker-Custom-Attributes: model_version=<v>``
(boto3 returns it as ``CustomAttributes``) so clients record which model scored.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

from ml_model.artifact import ModelBundle, load_model, model_available
from ml_model.errors import (
    ArtifactError,
    BodyTimeout,
    BodyTooLarge,
    FeatureCountError,
    IncompleteBody,
    PayloadError,
)
from ml_model.serving import codec
from ml_model.serving.body import read_body

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
RETRY_LOAD_SECONDS = 5.0


class ModelHolder:
    """Loads the model once per worker; while none is there, retries at most every few
    seconds so a model trained after start-up is picked up without a restart."""

    def __init__(self, model_dir: Path, *, nthread: int = 1) -> None:
        self.model_dir = model_dir
        self.nthread = nthread
        self._model: ModelBundle | None = None
        self._last_try = -RETRY_LOAD_SECONDS
        self._lock = threading.Lock()
        self.error: str | None = None

    def get(self) -> ModelBundle | None:
        if self._model is not None:
            return self._model
        with self._lock:
            now = time.monotonic()
            if self._model is None and now - self._last_try >= RETRY_LOAD_SECONDS:
                self._last_try = now
                self._load()
        return self._model

    def _load(self) -> None:
        if not model_available(self.model_dir):
            self.error = f"no model in {self.model_dir}"
            return
        try:
            self._model = load_model(self.model_dir, nthread=self.nthread)
        except ArtifactError as error:
            self.error = str(error)
            log.error("model not loaded: %s", error)
            return
        self.error = None
        log.info("loaded model %s from %s", self._model.version, self._model.source)


def _error(status: int, message: str, runtime: bool, code: str) -> Response:
    if not runtime:
        return Response(message + "\n", status=status, mimetype="text/plain")
    body: dict[str, Any] = {"message": message}
    if code == "ModelError":
        body |= {"OriginalStatusCode": status, "OriginalMessage": message}
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/json",
        headers={"x-amzn-ErrorType": code},
    )


def _invoke(holder: ModelHolder, runtime: bool) -> Response:
    model = holder.get()
    if model is None:
        return _error(503, f"model not loaded: {holder.error}", runtime, "ServiceUnavailable")
    kind = codec.media_type(request.content_type) or codec.CSV
    answer = codec.response_type(request.headers.get("Accept"), kind)
    if answer is None:
        return _error(406, "Accept must allow text/csv or application/json", runtime, "ModelError")
    try:
        body = read_body(request.environ, MAX_PAYLOAD_BYTES)
    except BodyTooLarge as error:
        return _error(413, str(error), runtime, "ValidationError")
    except BodyTimeout as error:
        return _error(408, str(error), runtime, "ValidationError")
    except IncompleteBody as error:
        return _error(400, str(error), runtime, "ValidationError")
    try:
        rows = codec.parse(body, kind, model.feature_names)
    except PayloadError as error:
        return _error(415, str(error), runtime, "ModelError")
    except FeatureCountError as error:
        return _error(400, str(error), runtime, "ModelError")
    scores = model.predict(rows)
    return Response(
        codec.encode(scores, answer, model.version),
        status=200,
        mimetype=answer,
        headers={CUSTOM_ATTRIBUTES: f"model_version={model.version}"},
    )


def create_app(model_dir: str | Path, *, endpoint_name: str, nthread: int = 1) -> Flask:
    """The WSGI app; loads the model now (once for this worker)."""
    holder = ModelHolder(Path(model_dir), nthread=nthread)
    holder.get()
    app = Flask("fraudstream-model-server")
    app.extensions["fraudstream_model"] = holder

    @app.get("/ping")
    def ping() -> Response:
        model = holder.get()
        if model is None:
            return Response(f"no model: {holder.error}\n", status=503, mimetype="text/plain")
        return Response("", status=200)

    @app.get("/manifest")
    def manifest() -> Response:
        model = holder.get()
        if model is None:
            return Response(f"no model: {holder.error}\n", status=503, mimetype="text/plain")
        return Response(json.dumps(model.manifest), mimetype="application/json")

    @app.post("/invocations")
    def invocations() -> Response:
        return _invoke(holder, runtime=False)

    @app.post("/endpoints/<name>/invocations")
    def runtime_invocations(name: str) -> Response:
        if name != endpoint_name:
            return _error(
                400,
                f"Endpoint {name} not found (this server is {endpoint_name})",
                True,
                "ValidationError",
            )
        return _invoke(holder, runtime=True)

    return app
