"""The scoring client the processor calls once per micro-batch.

``ScoringClient.score(rows)`` takes a whole batch of feature rows (a pandas DataFrame with the
feature columns, an Arrow table, or a 2-D array in manifest order) and returns one score per
row with the model version and the path that scored it:

* **endpoint**: rows go to the SageMaker endpoint (or the local server) as CSV, split into
  requests under the 6 MB payload limit; each request has connect/read timeouts and is retried
  with exponential backoff and jitter on timeouts, connection errors, throttling and 5xx;
* **fallback**: when a request still fails, or the circuit breaker is open after repeated
  failures, the same artifact scores the rows in-process. Scoring never stops because the
  endpoint is down.

Reason codes (top contributing features, plain words) come from the local copy of the model
for the rows at or above the review threshold (or all rows, or none: ``reasons=``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from fraudstream.retry import Backoff, GaveUp, is_transient, retry
from ml_model.artifact import ModelBundle, load_model
from ml_model.errors import ArtifactError, FeatureCountError, ScoringUnavailable
from ml_model.features.schema import FEATURE_NAMES
from ml_model.scoring.breaker import CircuitBreaker
from ml_model.scoring.reasons import feature_words, top_features
from ml_model.serving import codec

if TYPE_CHECKING:
    from fraudstream.settings import Settings

log = logging.getLogger(__name__)

ENDPOINT = "endpoint"
FALLBACK = "fallback"
#: SageMaker's InvokeEndpoint limit is 6 MB; leave room for headers and rounding.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 - 64 * 1024
_VERSION = re.compile(r"model_version=([^;,\s]+)")

Reasons = Literal["flagged", "all", "none"]


@dataclass
class ScoredBatch:
    """One score per input row, in input order, as columns.

    ``reason_features[i]``: the feature numbers that raised row ``i``'s score most (``-1`` for
    none; only rows the client explains, see ``reasons=``), named by ``feature_words``."""

    scores: np.ndarray
    model_version: np.ndarray  # str per row (object array)
    scored_by: np.ndarray  # "endpoint" or "fallback" per row (object array)
    reason_features: np.ndarray
    feature_words: Sequence[str] = ()
    feature_names: Sequence[str] = ()
    endpoint_errors: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.scores)


class EndpointFailure(Exception):
    """One request to the endpoint failed; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def to_matrix(rows: Any, names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """A float64 matrix in feature order from a DataFrame/Arrow table with the feature columns
    (any extra columns are ignored), or a 2-D array-like already in order."""
    if isinstance(rows, pa.Table | pa.RecordBatch):
        rows = rows.to_pandas()
    if isinstance(rows, pd.DataFrame):
        missing = [n for n in names if n not in rows.columns]
        if missing:
            raise FeatureCountError(f"batch lacks feature column(s): {', '.join(missing[:5])}")
        return rows[list(names)].to_numpy(dtype=np.float64)
    matrix = np.asarray(rows, dtype=np.float64)
    if matrix.ndim == 1 and matrix.size == 0:
        matrix = matrix.reshape(0, len(names))
    if matrix.ndim != 2 or matrix.shape[1] != len(names):
        raise FeatureCountError(f"expected rows of {len(names)} features, got {matrix.shape}")
    return matrix


def plan_requests(line_ends: np.ndarray, max_bytes: int, max_rows: int) -> list[tuple[int, int]]:
    """Cut rows into ``[start, end)`` ranges whose lines (``line_ends``: offset just past each
    row's newline in the body) fit ``max_bytes`` and ``max_rows`` per request. The loop runs
    once per request, each cut found by binary search."""
    ends = np.asarray(line_ends, dtype=np.int64)
    sizes = np.diff(np.r_[0, ends])
    if len(sizes) and int(sizes.max()) > max_bytes:
        row = int(np.argmax(sizes))
        raise FeatureCountError(f"row {row} alone is larger than the payload limit")
    ranges = []
    start, rows = 0, len(ends)
    while start < rows:
        before = int(ends[start - 1]) if start else 0
        fits = int(np.searchsorted(ends, before + max_bytes, "right"))
        end = min(max(fits, start + 1), start + max_rows, rows)
        ranges.append((start, end))
        start = end
    return ranges


class ScoringClient:
    """Scores feature batches on the endpoint with an in-process fallback (see module doc)."""

    def __init__(
        self,
        runtime: Any,
        endpoint_name: str,
        *,
        fallback: Callable[[], ModelBundle] | ModelBundle | None = None,
        breaker: CircuitBreaker | None = None,
        retries: int = 2,
        backoff_seconds: float = 0.05,
        max_backoff_seconds: float = 1.0,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        max_rows_per_request: int = 5_000,
        concurrent_requests: int = 4,
        reasons: Reasons = "flagged",
        top_reasons: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.runtime = runtime
        self.endpoint_name = endpoint_name
        self._fallback_source = fallback
        self._fallback: ModelBundle | None = fallback if isinstance(fallback, ModelBundle) else None
        self.breaker = breaker or CircuitBreaker()
        self.retries = retries
        self.backoff = Backoff(base=backoff_seconds, cap=max_backoff_seconds)
        self.max_payload_bytes = max_payload_bytes
        self.max_rows_per_request = max_rows_per_request
        if concurrent_requests < 1:
            raise ValueError("concurrent_requests must be at least 1")
        self.concurrent_requests = concurrent_requests
        self._requests: ThreadPoolExecutor | None = None  # made on the first batch of parts
        self._count_lock = threading.Lock()
        self.reasons = reasons
        self.top_reasons = top_reasons
        self._sleep = sleep
        self.counts = {ENDPOINT: 0, FALLBACK: 0, "requests": 0, "retries": 0}

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ScoringClient:
        """Client for ``settings.sagemaker_endpoint`` (at ``model_endpoint_url`` when set), with
        the artifact in ``settings.model_dir`` as the fallback, loaded on first need."""
        from fraudstream import aws

        target = settings
        if settings.model_endpoint_url:
            target = settings.model_copy(update={"endpoint_url": settings.model_endpoint_url})
        runtime = aws.client(
            "sagemaker-runtime",
            target,
            max_attempts=1,  # one attempt per call: this client retries itself, then falls back
            connect_timeout=settings.model_connect_timeout_seconds,
            read_timeout=settings.model_request_timeout_seconds,
        )
        kwargs.setdefault("retries", settings.model_retries)
        kwargs.setdefault("concurrent_requests", settings.model_concurrent_requests)
        kwargs.setdefault(
            "breaker",
            CircuitBreaker(
                failure_threshold=settings.model_breaker_failures,
                reset_seconds=settings.model_breaker_reset_seconds,
            ),
        )
        kwargs.setdefault("fallback", lambda: load_model(settings.model_dir))
        return cls(runtime, settings.sagemaker_endpoint, **kwargs)

    # --- the fallback model ----------------------------------------------------------------
    def local_model(self) -> ModelBundle | None:
        """The in-process copy (loaded once); None when there is none to load."""
        if self._fallback is None and self._fallback_source is not None:
            source = self._fallback_source
            try:
                self._fallback = source() if callable(source) else source
            except ArtifactError as error:
                log.warning("no fallback model: %s", error)
                self._fallback_source = None
        return self._fallback

    # --- the endpoint ----------------------------------------------------------------------
    def _invoke(self, body: bytes) -> tuple[np.ndarray, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.runtime.invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType=codec.CSV,
                Accept=codec.CSV,
                Body=body,
            )
            payload = response["Body"].read()
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            code = error.response.get("Error", {}).get("Code", "")
            raise EndpointFailure(
                f"HTTP {status} {code}: {error}", retry=is_transient(error)
            ) from error
        except BotoCoreError as error:  # timeouts, refused connections, dropped connections
            raise EndpointFailure(f"{type(error).__name__}: {error}", retry=True) from error
        try:
            scores, version = codec.decode_scores(payload, response.get("ContentType", codec.CSV))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            # Not a scoring response (a misconfigured endpoint, a proxy's error page): the
            # batch falls back like any failed call rather than failing the stream.
            preview = payload[:60].decode("utf-8", "replace")
            raise EndpointFailure(
                f"unreadable response {preview!r}: {error}", retry=False
            ) from error
        attributes = response.get("CustomAttributes") or ""
        match = _VERSION.search(attributes)
        return scores, version or (match.group(1) if match else "unknown")

    def _call_with_retries(self, body: bytes, rows: int) -> tuple[np.ndarray, str]:
        def once() -> tuple[np.ndarray, str]:
            self._count("requests")
            scores, version = self._invoke(body)
            if len(scores) != rows:
                raise EndpointFailure(
                    f"endpoint returned {len(scores)} scores for {rows} rows", retry=False
                )
            return scores, version

        def counted(attempt: int, error: BaseException) -> None:
            self._count("retries")

        try:
            return retry(
                once,
                max_attempts=self.retries + 1,
                backoff=self.backoff,
                sleep=self._sleep,
                transient=lambda error: isinstance(error, EndpointFailure) and error.retry,
                on_retry=counted,
            )
        except GaveUp as gave_up:
            raise gave_up.last from gave_up.last.__cause__

    def _count(self, name: str, n: int = 1) -> None:
        with self._count_lock:  # requests run on several threads
            self.counts[name] += n

    def _results(
        self, body: bytes, ends: np.ndarray, plan: list[tuple[int, int]]
    ) -> Iterator[tuple[np.ndarray, str] | EndpointFailure | None]:
        """Each part's scores and model version, its failure, or None when the breaker held it
        back, in plan order. With ``concurrent_requests`` > 1 the parts the breaker allows go
        out together (a batch's parts wait on the endpoint at once, not one after another);
        with 1 each part is sent once the one before it is recorded, so a failure that opens
        the breaker holds back the rest."""

        def part(start: int, end: int) -> bytes:
            return body[int(ends[start - 1]) if start else 0 : int(ends[end - 1])]

        if self.concurrent_requests == 1:
            for start, end in plan:
                if not self.breaker.allow():
                    yield None
                    continue
                try:
                    yield self._call_with_retries(part(start, end), end - start)
                except EndpointFailure as failure:
                    yield failure
            return
        if self._requests is None:
            self._requests = ThreadPoolExecutor(
                max_workers=self.concurrent_requests, thread_name_prefix="scoring"
            )
        pool = self._requests
        sent = [
            pool.submit(self._call_with_retries, part(start, end), end - start)
            if self.breaker.allow()
            else None
            for start, end in plan
        ]
        for future in sent:
            if future is None:
                yield None
                continue
            try:
                yield future.result()
            except EndpointFailure as failure:
                yield failure

    def close(self) -> None:
        """Stop the request threads (a later :meth:`score` starts them again)."""
        if self._requests is not None:
            self._requests.shutdown(wait=True)
            self._requests = None

    # --- the batch API ---------------------------------------------------------------------
    def score(self, rows: Any) -> ScoredBatch:
        """Score a batch; one entry per row in every output list, in input order."""
        local = None
        names: Sequence[str] = FEATURE_NAMES
        if isinstance(self._fallback_source, ModelBundle):
            names = self._fallback_source.feature_names
        matrix = to_matrix(rows, names)
        n = len(matrix)
        scores = np.zeros(n, dtype=np.float64)
        versions = np.full(n, "", dtype=object)
        paths = np.full(n, "", dtype=object)
        errors: list[str] = []
        if n and self.breaker.state == "open":  # no request can go: skip encoding them
            local = self.local_model()
            if local is None:
                raise ScoringUnavailable(
                    "the endpoint's circuit is open and no local model is available"
                )
            scores[:] = local.predict(matrix)
            versions[:] = local.version
            paths[:] = FALLBACK
            self.counts[FALLBACK] += n
        elif n:
            body, ends = codec.encode_csv_body(matrix)
            plan = plan_requests(ends, self.max_payload_bytes, self.max_rows_per_request)
            for (start, end), result in zip(plan, self._results(body, ends, plan), strict=True):
                done = False
                if isinstance(result, EndpointFailure):
                    self.breaker.record_failure()
                    errors.append(str(result))
                    log.warning("endpoint failed, scoring in-process: %s", result)
                elif result is not None:
                    part, version = result
                    self.breaker.record_success()
                    scores[start:end] = part
                    versions[start:end] = version
                    paths[start:end] = ENDPOINT
                    self.counts[ENDPOINT] += end - start
                    done = True
                if not done:
                    local = local or self.local_model()
                    if local is None:
                        raise ScoringUnavailable(
                            "the endpoint failed and no local model is available to fall back "
                            f"on ({'; '.join(errors) or 'circuit open'})"
                        )
                    scores[start:end] = local.predict(matrix[start:end])
                    versions[start:end] = local.version
                    paths[start:end] = FALLBACK
                    self.counts[FALLBACK] += end - start
        features = np.full((n, self.top_reasons), -1, dtype=np.int32)
        local = self.local_model() if self.reasons != "none" and n else None
        if local is None:
            return ScoredBatch(scores, versions, paths, features, endpoint_errors=errors)
        if self.reasons == "all":
            picked = np.arange(n)
        else:
            thresholds = local.thresholds
            cut = thresholds.review if thresholds is not None else 0.5
            picked = np.flatnonzero(scores >= cut)
        if len(picked):
            features[picked] = top_features(local, matrix[picked], top=self.top_reasons)
        return ScoredBatch(
            scores,
            versions,
            paths,
            features,
            feature_words(local),
            list(local.feature_names),
            errors,
        )
