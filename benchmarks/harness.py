"""Shared set-up for the end-to-end benchmarks: a private emulator, a trained model, the model
server as its own process, and fresh streams, bucket and table per run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fraudstream import aws
from fraudstream.settings import Settings, load_settings
from fraudstream.stack import lifecycle
from fraudstream.stack.resources import ensure_bucket, ensure_stream, ensure_table

CARDS = 20_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli(env: dict[str, str], *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "fraudstream", *args], env=env, **kwargs)  # type: ignore[call-overload]


def environment(settings: Settings) -> dict[str, str]:
    """Environment variables that make a child `fraudstream` command use ``settings``."""
    env = dict(os.environ)
    env.update(
        {
            "AWS_ENDPOINT_URL": settings.endpoint_url or "",
            "FRAUDSTREAM_STREAM_NAME": settings.stream_name,
            "FRAUDSTREAM_LABELS_STREAM_NAME": settings.labels_stream_name,
            "FRAUDSTREAM_BUCKET": settings.bucket,
            "FRAUDSTREAM_ALERTS_TABLE": settings.alerts_table,
            "FRAUDSTREAM_STATE_DIR": str(settings.state_dir),
            "FRAUDSTREAM_MODEL_DIR": str(settings.model_dir),
            "FRAUDSTREAM_METRICS_PORT": "0",
        }
    )
    return env


@contextmanager
def bench_stack(workdir: Path) -> Iterator[Settings]:
    port = free_port()
    settings = load_settings(
        stack_port=port,
        endpoint_url=f"http://127.0.0.1:{port}",
        state_dir=workdir / "stack",
        metrics_port=0,
    )
    lifecycle.up(settings)
    try:
        yield settings
    finally:
        lifecycle.stop_emulator(settings)


def train(settings: Settings, workdir: Path) -> Path:
    """A model trained on generator history (the regime the benchmark produces)."""
    folder = workdir / "model"
    env = environment(settings.model_copy(update={"model_dir": folder}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fraudstream",
            "train",
            "--cards",
            "5000",
            "--days",
            "14",
            "--out",
            str(folder),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"training failed: {result.stderr[-2000:]}")
    return folder


@contextmanager
def model_server(settings: Settings) -> Iterator[str]:
    """`fraudstream serve-model` in its own process; yields its URL."""
    port = free_port()
    env = environment(settings)
    env["FRAUDSTREAM_MODEL_SERVER_PORT"] = str(port)
    process = cli(env, "serve-model", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/ping", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the model server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def fresh(settings: Settings, workdir: Path, **overrides: object) -> Settings:
    """New streams, bucket, table and checkpoint folder: one run's own resources."""
    suffix = uuid.uuid4().hex[:8]
    run = settings.model_copy(
        update={
            "stream_name": f"tx-{suffix}",
            "labels_stream_name": f"labels-{suffix}",
            "bucket": f"lake-{suffix}",
            "alerts_table": f"alerts-{suffix}",
            "state_dir": Path(tempfile.mkdtemp(prefix=f"run-{suffix}-", dir=workdir)),
            **overrides,
        }
    )
    kinesis = aws.client("kinesis", run)
    ensure_stream(kinesis, run.stream_name, run.stream_shards, 30)
    ensure_stream(kinesis, run.labels_stream_name, run.labels_stream_shards, 30)
    ensure_bucket(aws.client("s3", run), run.bucket, run.region)
    ensure_table(aws.client("dynamodb", run), run.alerts_table, 30)
    return run
