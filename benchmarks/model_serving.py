"""Model serving and feature cost: ``python -m benchmarks.model_serving``.

Measures, on a model of fixed size (300 trees, depth 6, 38 features) trained on the package's
synthetic history:

* the model server (``fraudstream serve-model`` in its own process) answering 500-row CSV
  requests from boto3's ``sagemaker-runtime`` client: p50/p99/mean latency;
* the scoring client end to end for a 500-row batch (CSV encoding, HTTP, decoding, reason
  codes for the flagged rows);
* in-process batch scoring (the fallback path) in rows/s;
* the shared feature code: microseconds per transaction for ``features`` + ``CardState.add``
  and for a merchant snapshot + update, and the batch builder's rows/s.

Writes ``benchmarks/results/model_serving.json``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks.results import write
from fraudstream.demo.processes import free_port


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 3),
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "mean_ms": round(1000 * statistics.fmean(ordered), 3),
        "requests": len(ordered),
    }


def _train(folder: Path, trees: int = 300) -> tuple[int, np.ndarray]:
    """A model of fixed size: the pipeline's artifact, with the booster swapped for one of
    exactly ``trees`` rounds (early stopping would otherwise pick the size)."""
    import xgboost as xgb

    from ml_model.artifact import write_artifact
    from ml_model.data.history import History
    from ml_model.features import FEATURE_NAMES, FeatureConfig, build
    from ml_model.testing import synthetic_history
    from ml_model.training.fit import TrainParams
    from ml_model.training.pipeline import train_model

    frame = synthetic_history(cards=400, days=30.0, seed=1)
    config = FeatureConfig(label_delay_ms=86_400_000)
    params = TrainParams(max_rounds=50, nthread=2)
    outcome = train_model(History(frame, "synthetic"), out_dir=folder, config=config, params=params)
    matrix = build(frame, frame, config).astype(np.float64)
    data = xgb.DMatrix(matrix, label=frame["is_fraud"], feature_names=list(FEATURE_NAMES))
    booster = xgb.train(params.xgb_params(), data, num_boost_round=trees)
    manifest = {k: v for k, v in outcome.manifest.items() if k != "artifact"}
    write_artifact(booster, manifest, folder)
    return int(booster.num_boosted_rounds()), matrix


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per test")
    parser.add_argument("--rows", type=int, default=500, help="rows per request")
    args = parser.parse_args(argv)

    from fraudstream import aws
    from fraudstream.settings import load_settings
    from ml_model.artifact import load_model
    from ml_model.scoring import ScoringClient
    from ml_model.serving import codec

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        print("training a 300-tree model on synthetic history ...", flush=True)
        trees, matrix = _train(folder)
        bundle = load_model(folder)
        rows = matrix[: args.rows]
        body = b"\n".join(codec.encode_csv_rows(rows))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from fraudstream.cli import main; main()",
                "serve-model",
                "--port",
                str(port),
                "--model-dir",
                str(folder),
                "--endpoint-name",
                "bench",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_ready(url, process)
            local = load_settings(endpoint_url=url, sagemaker_endpoint="bench")
            runtime = aws.client("sagemaker-runtime", local, max_attempts=1)
            for _ in range(20):  # warm-up: connections, caches
                runtime.invoke_endpoint(EndpointName="bench", ContentType="text/csv", Body=body)
            samples = []
            for _ in range(args.requests):
                began = time.perf_counter()
                answer = runtime.invoke_endpoint(
                    EndpointName="bench", ContentType="text/csv", Body=body
                )
                answer["Body"].read()
                samples.append(time.perf_counter() - began)
            server = _percentiles(samples)
            print(f"server, {args.rows} rows/request: {server}", flush=True)

            settings = load_settings(model_endpoint_url=url, sagemaker_endpoint="bench")
            client = ScoringClient.from_settings(settings, fallback=bundle)
            for _ in range(10):
                client.score(rows)
            samples = []
            for _ in range(args.requests // 2):
                began = time.perf_counter()
                scored = client.score(rows)
                samples.append(time.perf_counter() - began)
            assert set(scored.scored_by) == {"endpoint"}
            end_to_end = _percentiles(samples)
            print(f"scoring client, {args.rows}-row batch: {end_to_end}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=10)

        big = np.tile(matrix, (max(1, 200_000 // len(matrix)), 1))[:200_000]
        bundle.predict(big[:1000])
        began = time.perf_counter()
        bundle.predict(big)
        single = len(big) / (time.perf_counter() - began)
        two = load_model(folder, nthread=2)
        began = time.perf_counter()
        two.predict(big)
        double = len(big) / (time.perf_counter() - began)
        print(f"in-process: {single:,.0f} rows/s (1 thread), {double:,.0f} rows/s (2)", flush=True)

    path = write(
        "model_serving",
        {
            "model": {
                "trees": trees,
                "max_depth": 6,
                "features": int(matrix.shape[1]),
            },
            "rows_per_request": args.rows,
            "server_boto3_csv": server,
            "scoring_client_batch": end_to_end,
            "in_process_rows_per_s": {"threads_1": round(single), "threads_2": round(double)},
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
