"""One typed, frozen settings object for every component.

Values come from (highest first) explicit keyword arguments, environment variables prefixed
``FRAUDSTREAM_``, an optional dotenv-style file, then the defaults below. The AWS endpoint also
honours the standard ``AWS_ENDPOINT_URL`` so boto3, Terraform and the AWS CLI agree on where AWS
is; per-service variants (``AWS_ENDPOINT_URL_KINESIS`` ...) are honoured by
:mod:`fraudstream.aws`. Nothing here is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudstream.addresses import is_local_endpoint, webhook_url_problem
from fraudstream.cells import HashRange
from fraudstream.errors import SettingsError

ENV_PREFIX = "FRAUDSTREAM_"
SETTINGS_FILE_ENV = "FRAUDSTREAM_SETTINGS_FILE"
# A development-only default so a fresh clone runs; `check_production_safety` refuses it for
# any endpoint that is not this machine's emulator.
DEV_TOKEN_KEY = "fraudstream-local-development-key"  # noqa: S105 - not a secret, see above
#: HMAC-SHA256 keys shorter than its 32-byte output weaken it; shorter keys are refused.
MIN_TOKEN_KEY_BYTES = 32

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class Settings(BaseSettings):
    """Every knob of the platform, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        case_sensitive=False,
    )

    # --- AWS -----------------------------------------------------------------------------
    region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices("FRAUDSTREAM_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        description="AWS region of every resource.",
    )
    endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("FRAUDSTREAM_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
        description="AWS endpoint override (local emulator or LocalStack); unset means real AWS.",
    )

    # --- Streams ---------------------------------------------------------------------------
    stream_name: str = Field("transactions", description="Kinesis stream of transaction events.")
    stream_shards: int = Field(4, ge=1, le=500, description="Shards created for the stream.")
    labels_stream_name: str = Field(
        "transaction-labels", description="Kinesis stream of delayed ground-truth labels."
    )
    labels_stream_shards: int = Field(
        3,
        ge=1,
        le=500,
        description=(
            "Shards of the labels stream: one label per transaction, ~220 bytes, so 3 shards "
            "carry the 10,000/s the 4 transaction shards do (1 carries ~3,500/s and reads ~8,000 "
            "labels/s while catching up; docs/deploy.md)."
        ),
    )

    # --- Lake and alerts -------------------------------------------------------------------
    bucket: str = Field("fraudstream-lake", description="S3 bucket of the Parquet lake.")
    alerts_table: str = Field("fraud-alerts", description="DynamoDB table of review/block alerts.")
    alert_ttl_days: int = Field(90, ge=1, le=3650, description="Days before an alert item expires.")

    # --- Security --------------------------------------------------------------------------
    card_token_key: SecretStr = Field(
        SecretStr(DEV_TOKEN_KEY),
        description=(
            "HMAC key (32+ bytes) that turns card numbers into tokens; the default works only "
            "against the local emulator."
        ),
    )

    # --- Model -----------------------------------------------------------------------------
    model_dir: Path = Field(
        Path("artifacts/model"), description="Folder holding model.tar.gz and manifest.json."
    )
    sagemaker_endpoint: str = Field(
        "fraudstream-xgboost", description="SageMaker endpoint name the scoring client calls."
    )
    model_endpoint_url: str | None = Field(
        None,
        description="sagemaker-runtime endpoint override, e.g. the local model server's URL.",
    )
    model_server_host: str = Field(
        "127.0.0.1", description="Address serve-model binds (0.0.0.0 inside a container)."
    )
    model_server_port: int = Field(8080, ge=1, le=65535, description="Port serve-model binds.")
    model_server_workers: int = Field(
        1, ge=1, le=64, description="serve-model processes (each loads the model); one per core."
    )
    model_server_threads: int = Field(
        4, ge=1, le=64, description="Requests one serve-model process scores at a time."
    )
    model_server_max_connections: int = Field(
        64,
        ge=2,
        le=10_000,
        description="Open connections one serve-model process holds; more wait to be accepted.",
    )
    model_server_timeout_seconds: int = Field(
        30,
        ge=1,
        le=600,
        description=(
            "Seconds a serve-model connection may stay silent mid-request or mid-answer before "
            "it is closed; also how long a stuck process has before it is restarted."
        ),
    )
    model_connect_timeout_seconds: float = Field(
        1.0, gt=0, le=60, description="Connect timeout of one scoring request to the endpoint."
    )
    model_request_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="Read timeout of one scoring request to the endpoint."
    )
    model_retries: int = Field(
        2, ge=0, le=10, description="Retries of a failed scoring request before the fallback."
    )
    model_concurrent_requests: int = Field(
        4,
        ge=1,
        le=64,
        description=(
            "Scoring requests of one micro-batch in flight at once (a batch is cut into "
            "requests of at most 5,000 rows and 6 MB); 1 sends them one after another."
        ),
    )
    model_breaker_failures: int = Field(
        5, ge=1, le=1000, description="Consecutive endpoint failures that open the breaker."
    )
    model_breaker_reset_seconds: float = Field(
        30.0, ge=0, le=3600, description="Seconds the breaker stays open before a trial call."
    )
    sagemaker_role_arn: str | None = Field(
        None, description="IAM role SageMaker assumes to read the model (model deploy)."
    )
    sagemaker_image_uri: str | None = Field(
        None, description="Inference image for the SageMaker model (built-in XGBoost or ours)."
    )
    sagemaker_instance_type: str = Field(
        "ml.m5.large", description="Instance type of the SageMaker endpoint."
    )
    sagemaker_instance_count: int = Field(
        1, ge=1, le=100, description="Instances behind the SageMaker endpoint."
    )
    sagemaker_capture_percent: int = Field(
        100, ge=0, le=100, description="Share of endpoint requests captured to S3 (0 = off)."
    )

    # --- Processor -------------------------------------------------------------------------
    checkpoint_location: str | None = Field(
        None,
        description=(
            "Spark checkpoint folder (local path or s3a://); default under state_dir. A cell "
            "of several checkpoints to cells/<index>-of-<count> inside it."
        ),
    )
    hash_range: str = Field(
        "0/1",
        description=(
            "This processor's cell, <index>/<count>: it reads the Kinesis shards of that share "
            "of the hash-key space and keeps its cards (0/2 = the first half); 0/1 = all."
        ),
    )
    trigger_seconds: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="Micro-batch trigger interval; 0 runs each batch as soon as the last ends.",
    )
    kinesis_poll_ms: int = Field(
        200,
        ge=0,
        le=60_000,
        description="Pause before re-polling a shard that was caught up (5 reads/s/shard max).",
    )
    watermark: str = Field("10 minutes", description="Event-time watermark delay.")
    spark_master: str = Field(
        "local[2]", description="Spark master when not set by spark-submit (local runs)."
    )
    read_tasks: int = Field(
        2,
        ge=1,
        le=10_000,
        description=(
            "Spark tasks that read and validate a micro-batch (the shards of both streams "
            "spread over them); about the cores the job has: each task deserialises the "
            "whole batch's records once."
        ),
    )
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = Field(
        "TRIM_HORIZON", description="Where a new processor query starts reading the streams."
    )
    max_records_per_trigger: int | None = Field(
        20_000,
        ge=1,
        description=(
            "Admission control: most records read per micro-batch from each stream (a backlog "
            "is read in batches of this many; unset reads everything at once)."
        ),
    )
    max_bytes_per_trigger: int | None = Field(
        64 * 2**20,
        ge=1,
        description="Admission control: most bytes of records read per micro-batch per stream.",
    )
    spark_driver_memory: str = Field(
        "1g",
        pattern=r"^[1-9][0-9]*[mgMG]$",
        description=(
            "Heap of Spark's driver JVM when run locally, fixed at that size and touched from "
            "the start, so the JVM holds it all at once (spark-submit sets its own)."
        ),
    )
    rules_path: Path | None = Field(
        None, description="Decision rules YAML; unset uses the default shipped with the processor."
    )
    metrics_port: int = Field(
        9108, ge=0, le=65535, description="Port of the processor's Prometheus endpoint; 0 = off."
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address the processor's Prometheus endpoint binds."
    )
    monitor_window_rows: int = Field(
        5000,
        ge=100,
        description="Transactions per window of model monitoring (score and feature drift, "
        "alert rate); a window closes at the first micro-batch that reaches it.",
    )
    anomaly_signal: bool = Field(
        True,
        description="Score every transaction with the model's anomaly detector (in the "
        "processor; the lake's anomaly_score) and review approved rows it finds unusual, "
        "reason 'anomalous', within the rules' budget.anomaly_part; off, or a model without "
        "a detector, leaves the score all of the review budget and anomaly_score null.",
    )
    challenger_model_dir: Path | None = Field(
        None,
        description="A second model (folder as FRAUDSTREAM_MODEL_DIR) that scores every "
        "transaction in the processor without deciding: its scores go to the lake's "
        "shadow_scores table for `fraudstream model compare`; unset = none.",
    )
    model_metrics_namespace: str = Field(
        "",
        description="CloudWatch namespace the processor publishes model-monitoring figures to "
        "at each closed window (the Terraform alarms watch Fraudstream/Model); empty = off.",
    )
    sink_max_attempts: int = Field(
        10,
        ge=1,
        le=20,
        description=(
            "Attempts without progress per lake object or alerts batch before failing the "
            "batch (10, as the AWS SDKs retry DynamoDB)."
        ),
    )
    state_snapshot_every: int = Field(
        500,
        ge=1,
        le=100_000,
        description=(
            "Most micro-batches logged between two snapshots of the sink state (a restart "
            "replays at most this many batch logs)."
        ),
    )
    crash_at: str | None = Field(
        None,
        description=(
            "Test only: SIGKILL the processor after <step>:<batch id> of its sink, e.g. "
            "lake-commit:3 (steps in processor/crash.py); never set in production."
        ),
    )

    # --- Live dashboard --------------------------------------------------------------------
    dashboard_host: str = Field(
        "127.0.0.1", description="Address `fraudstream dashboard` binds (keep loopback)."
    )
    dashboard_port: int = Field(
        8765, ge=0, le=65535, description="Port of `fraudstream dashboard`; 0 = any free port."
    )

    # --- Block-alert webhook ---------------------------------------------------------------
    webhook_url: SecretStr | None = Field(
        None,
        description="Slack-compatible incoming-webhook URL for block alerts; unset = alerting off.",
    )
    webhook_poll_seconds: float = Field(
        5.0, gt=0, le=3600, description="Seconds between polls of the alerts table for new blocks."
    )
    webhook_max_attempts: int = Field(
        6, ge=1, le=20, description="Attempts per webhook post (5xx, 429, connection errors)."
    )
    webhook_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="Timeout of one webhook post (connect and response)."
    )
    webhook_lookback_seconds: float = Field(
        900.0,
        ge=0,
        le=86_400,
        description="Event-time window re-read behind the newest block, for late-written alerts.",
    )

    # --- Local stack -----------------------------------------------------------------------
    stack_host: str = Field("127.0.0.1", description="Address the local AWS emulator binds.")
    stack_port: int = Field(4566, ge=1, le=65535, description="Port of the local AWS emulator.")
    stack_shard_limits: bool = Field(
        True,
        description=(
            "The local emulator enforces AWS's per-shard Kinesis limits (puts 1,000 records/s "
            "and 1 MiB/s, reads 5 calls/s and 2 MiB/s); false accepts any rate."
        ),
    )
    state_dir: Path = Field(
        Path(".fraudstream"), description="Folder for pid files, logs and local checkpoints."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every component."
    )

    @field_validator("watermark")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not re.fullmatch(r"\d+ (second|minute|hour|day)s?", value.strip()):
            raise ValueError("must be like '10 minutes' (seconds, minutes, hours or days)")
        return value.strip()

    @field_validator("crash_at")
    @classmethod
    def _crash_point(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"[a-z-]+:\d+", value.strip()):
            raise ValueError("must be <step>:<batch id>, e.g. lake-commit:3 (test only)")
        return value.strip()

    @property
    def watermark_ms(self) -> int:
        """The watermark delay in milliseconds."""
        number, unit = self.watermark.split()
        scale = {"second": 1_000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
        return int(number) * scale[unit.rstrip("s")]

    @field_validator("stream_name", "labels_stream_name", "alerts_table", "sagemaker_endpoint")
    @classmethod
    def _aws_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be 1-128 characters of letters, digits, '_', '.' or '-'")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if not _BUCKET.match(value) or ".." in value:
            raise ValueError("must be a valid S3 bucket name (3-63 lowercase letters, digits, . -)")
        return value

    @field_validator("endpoint_url", "model_endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value().strip()
        problem = webhook_url_problem(url)
        if problem:
            raise ValueError(problem)
        return SecretStr(url)

    @field_validator("card_token_key")
    @classmethod
    def _token_key(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_TOKEN_KEY_BYTES:
            raise ValueError(
                f"must be at least {MIN_TOKEN_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            )
        return value

    @property
    def stack_endpoint(self) -> str:
        """URL of the embedded emulator this machine would start."""
        return f"http://{self.stack_host}:{self.stack_port}"

    @field_validator("hash_range")
    @classmethod
    def _hash_range(cls, value: str) -> str:
        return str(HashRange.parse(value))

    @property
    def cell(self) -> HashRange:
        """The processor's cell (:attr:`hash_range` parsed)."""
        return HashRange.parse(self.hash_range)

    @property
    def checkpoint_dir(self) -> str:
        """Where this processor checkpoints: the explicit setting, else under ``state_dir``;
        a cell of several in its own ``cells/<index>-of-<count>`` folder there, so cells
        configured alike (one ConfigMap) never share a checkpoint, and a new cell count
        starts new checkpoints instead of misreading old ones."""
        base = self.checkpoint_location or str(self.state_dir / "checkpoints" / "processor")
        cell = self.cell
        return base if cell.whole else f"{base.rstrip('/')}/cells/{cell.label}"

    @property
    def is_local(self) -> bool:
        """True when AWS calls go to an emulator on this machine's loopback (and only then: a
        real AWS URL, a VPC endpoint or any other address is not local)."""
        return is_local_endpoint(self.endpoint_url)


def _env_names() -> dict[str, tuple[str, list[str]]]:
    """Map every accepted key (field name or alias, lower-case) to (field, its env variables)."""
    names: dict[str, tuple[str, list[str]]] = {}
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        envs = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        envs = envs or [ENV_PREFIX + name.upper()]
        for key in [name, *envs]:
            names[key.lower()] = (name, envs)
    return names


def _describe(error: ValidationError) -> str:
    """Render pydantic errors as one line per field, naming its environment variable(s)."""
    known = _env_names()
    lines = []
    for item in error.errors():
        key = str(item["loc"][0]) if item["loc"] else "settings"
        if item["type"] == "extra_forbidden":
            lines.append(f"unknown setting {key.upper()} (misspelt? see docs/settings.md)")
            continue
        field, envs = known.get(key.lower(), (key, [ENV_PREFIX + key.upper()]))
        value = item.get("input")
        secret = field in Settings.model_fields and "SecretStr" in str(
            Settings.model_fields[field].annotation
        )
        shown = "" if isinstance(value, dict) or secret else f" (got {value!r})"
        lines.append(f"invalid setting {field} [{' / '.join(envs)}]{shown}: {item['msg']}")
    return "; ".join(lines)


def load_settings(env_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build and validate :class:`Settings`; raise :class:`SettingsError` naming the bad field.

    ``env_file`` (or ``$FRAUDSTREAM_SETTINGS_FILE``) is a dotenv-style file of ``FRAUDSTREAM_*``
    lines; a misspelt key in it is an error rather than silently ignored.
    """
    path = env_file or os.environ.get(SETTINGS_FILE_ENV)
    if path is not None and not Path(path).is_file():
        raise SettingsError(f"settings file not found: {path}")
    try:
        return Settings(_env_file=path, **overrides)  # type: ignore[call-arg]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from error


def to_environment(settings: Settings) -> dict[str, str]:
    """The ``FRAUDSTREAM_*`` (and ``AWS_ENDPOINT_URL``) variables that make a child process
    load exactly ``settings``: how the demo and the benchmarks hand one configuration to the
    processor, the model server and the producer they start. Unset optional values are left
    out, so the child falls back to the same default."""
    out: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        alias = info.validation_alias
        envs = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        key = envs[0] if envs else ENV_PREFIX + name.upper()
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = str(value)
    if settings.endpoint_url:
        out["AWS_ENDPOINT_URL"] = settings.endpoint_url
    return out


def endpoint_for(service: str, settings: Settings) -> str | None:
    """Endpoint URL for ``service`` (boto3 service name), or None for real AWS: the per-service
    ``AWS_ENDPOINT_URL_<SERVICE>`` first, then ``AWS_ENDPOINT_URL`` (:mod:`fraudstream.aws`)."""
    specific = os.environ.get("AWS_ENDPOINT_URL_" + service.upper().replace("-", "_"))
    return specific or settings.endpoint_url


def check_production_safety(settings: Settings, services: tuple[str, ...] = ("kinesis",)) -> None:
    """Refuse development-only defaults unless every endpoint the command calls (``services``,
    per-service ``AWS_ENDPOINT_URL_<SERVICE>`` overrides included) is this machine's emulator:
    the development card-token key is public (it is in this file), so tokens made with it can
    be reversed by anyone holding a list of card numbers."""
    endpoints = [settings.endpoint_url, *(endpoint_for(s, settings) for s in services)]
    local = all(is_local_endpoint(e) for e in endpoints)
    if not local and settings.card_token_key.get_secret_value() == DEV_TOKEN_KEY:
        where = "real AWS" if None in endpoints else "an endpoint that is not loopback"
        raise SettingsError(
            "invalid setting card_token_key [FRAUDSTREAM_CARD_TOKEN_KEY]: the development key "
            f"works only with the local emulator on this machine, not against {where}; set a "
            "secret of at least 32 bytes (e.g. from Secrets Manager)"
        )
