"""Shared set-up for the end-to-end benchmarks: a private emulator, a trained model, the model
server as its own process, and fresh streams, bucket and table per run; and :func:`sweep`, the
command line of the benchmarks that run at increasing rates (pipeline, naive)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import results
from fraudstream.demo.processes import Child, free_port, http_ok
from fraudstream.settings import Settings, load_settings, to_environment
from fraudstream.stack import lifecycle
from fraudstream.stack.resources import ensure_data_resources

CARDS = 20_000


def cli(env: dict[str, str], *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "fraudstream", *args], env=env, **kwargs)  # type: ignore[call-overload]


def environment(settings: Settings) -> dict[str, str]:
    """This process's environment plus the variables that make a child `fraudstream` command
    load exactly ``settings`` (:func:`fraudstream.settings.to_environment`)."""
    return {**os.environ, **to_environment(settings)}


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


WARM_UP_DAYS = 30.0
"""Days of history that only warm the features up (the longest lookback) before training rows:
trained from the first day, rows with 0-14 days of history behind them made the baseline's
score PSI climb to 0.5-0.8 on unchanged traffic once a stream held 25+ days (docs/model.md).
Model monitoring needs it; the throughput benchmarks keep the quicker cold 14 days."""


def train(settings: Settings, workdir: Path, *, days: float = 14.0, warm_up: float = 0.0) -> Path:
    """A model trained on ``days`` of generator history (the regime the benchmark produces),
    after ``warm_up`` days that only build the cards' history."""
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
            str(days),
            *(["--warm-up", str(warm_up)] if warm_up else []),
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


class ModelServer:
    """`fraudstream serve-model` as its own process, on one port for its whole life, so it can
    be killed and started again at the same URL (the fault suite takes the endpoint down). Its
    output goes to ``<state dir>/logs/model-server.log``; a failed start raises with the log's
    last lines (the demo's :class:`~fraudstream.demo.processes.Child`)."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.child: Child | None = None

    def start(self, timeout: float = 60.0) -> ModelServer:
        """Start the server and return once it answers ``/ping``."""
        env = to_environment(self.settings.model_copy(update={"model_server_port": self.port}))
        self.child = Child.start(
            "model-server", ["serve-model"], env, Path(self.settings.state_dir) / "logs"
        )
        self.child.wait_until(lambda: http_ok(self.url + "/ping"), timeout, "ready")
        return self

    @property
    def pid(self) -> int | None:
        """The server's process (its workers are its children), while it runs."""
        return self.child.process.pid if self.child is not None else None

    def running(self) -> bool:
        return self.child is not None and self.child.running

    def kill(self) -> None:
        """``kill -9`` the server (no goodbye to open connections)."""
        if self.child is not None:
            self.child.kill(timeout=30)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(grace=30)


@contextmanager
def model_server(settings: Settings) -> Iterator[str]:
    """`fraudstream serve-model` in its own process; yields its URL."""
    server = ModelServer(settings).start()
    try:
        yield server.url
    finally:
        server.stop()


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
    ensure_data_resources(run)
    return run


RunRate = Callable[[Settings, Path, int, float, float, float], dict[str, Any]]
"""One rate's run: ``(base, workdir, rate, duration, warmup, grace)`` -> its results, with at
least ``rate``, ``produced``, ``processed``, ``processed_per_s``, ``e2e_latency`` and
``sustained``."""


def sweep(
    argv: list[str] | None,
    *,
    name: str,
    description: str,
    rates: str,
    duration: float,
    workdir_prefix: str,
    run_rate: RunRate,
    detail: Callable[[dict[str, Any]], str],
    facts: Callable[[Settings], dict[str, Any]],
    warmup: float = 10.0,
) -> dict[str, Any]:
    """The command line of a benchmark at increasing rates: ``--rates`` (default ``rates``),
    ``--duration`` (default ``duration``), ``--warmup`` (default ``warmup``) and ``--grace``.
    One private stack, model and model server for all rates (under a new ``workdir_prefix...``
    temporary folder);
    one ``run_rate`` per rate, each followed by its progress line (``detail`` fills its middle);
    then the highest sustained rate, and ``benchmarks/results/<name>.json`` with ``facts`` (of
    the last base settings) first."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rates", default=rates)
    parser.add_argument("--duration", type=float, default=duration)
    parser.add_argument("--warmup", type=float, default=warmup)
    parser.add_argument("--grace", type=float, default=15.0)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix=workdir_prefix))
    runs = []
    with bench_stack(workdir) as stack:
        model = train(stack, workdir)
        base = stack.model_copy(update={"model_dir": model})
        with model_server(base) as url:
            base = base.model_copy(update={"model_endpoint_url": url})
            for rate in [int(r) for r in args.rates.split(",")]:
                run = run_rate(base, workdir, rate, args.duration, args.warmup, args.grace)
                runs.append(run)
                print(rate_line(run, detail(run)), flush=True)
    highest = max((r["rate"] for r in runs if r["sustained"]), default=None)
    out = {**facts(base), "runs": runs, "highest_sustained_rate": highest}
    print(f"highest sustained rate: {highest}")
    print(f"wrote {results.write(name, out)}")
    return out


def rate_line(run: dict[str, Any], detail: str) -> str:
    """One rate's progress line: what was processed, the median latency, ``detail``, the
    verdict."""
    return (
        f"rate {run['rate']:>6,}/s: processed {run['processed']:>7,}/{run['produced']:,} "
        f"({run['processed_per_s']:,}/s)  e2e p50 {run['e2e_latency']['p50_ms']} ms "
        f"{detail} sustained={run['sustained']}"
    )
