"""A drift you can watch: how soon the model's monitoring sees a drift injected mid-run.

On a private emulator with the model server in its own process, this process runs the real
processor (:func:`processor.streaming_job.start`, ``local[2]``, its Prometheus endpoint on)
while ``fraudstream produce --clock simulated --drift SPEC --drift-at N`` sends the traffic
(500/s, labels 60 event-seconds late, as in the demo). The processor starts with empty card
state, and the drift alerts hold until that state covers the history the model's baseline rows
had, at most the features' 30-day lookback (``fraudstream_model_warm``). The model trains on 14
days of generator history after 30 of warm-up (:data:`benchmarks.harness.WARM_UP_DAYS`), so
every baseline row has the full lookback, as a long-running stream's transactions do. The
default population of 2,000 cards makes a simulated day last 12 s: the state is warm after about
6 minutes, and the drift comes at 12 (the demo's 20,000 cards would need an hour). Every
``--scrape`` seconds it reads ``/metrics`` as Prometheus would and records the score's PSI,
whether the state is warm, the recall of the decisions on the labels that have arrived, and the
validation recall beside it.

Reported (``benchmarks/results/drift_watch.json``), in seconds from the drift's start:

* when the state became warm, the PSI of warm, unchanged traffic before the drift, and whether
  the rule fired before the drift (a false alarm), gated as the rule is and ungated;
* the first scrape with the score's PSI above 0.25, and when ``FraudstreamScoreDrift``
  (``infrastructure/monitoring/alert-rules.yaml``: PSI > 0.25 while warm, ``for: 1m``) would
  fire, i.e. the first scrape at which every scrape of the last minute was above; the issue's
  target is 5 minutes;
* the first scrape with the recall below 80 % of the validation recall (the
  ``FraudstreamRecallFalling`` condition; the rule waits 30 minutes more before paging);
* the series themselves, before and after.

The drift's start is dated conservatively: the first committed batch with rows, minus its
largest end-to-end latency (when the producer's first transaction arrived), plus ``N``; a
producer that falls behind its rate drifts later than that, so the times are upper bounds.

Run: ``python -m benchmarks.drift_watch [--drift fraud_x5] [--drift-at 720] [--seconds 1080]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from benchmarks import results
from benchmarks.harness import (
    WARM_UP_DAYS,
    bench_stack,
    cli,
    environment,
    fresh,
    model_server,
    train,
)
from fraudstream.demo.processes import free_port, produce_args
from fraudstream.live.collector import scrape_text
from fraudstream.live.metrics import ScrapeError
from fraudstream.live.model_health import DRIFT_PSI, RECALL_RATIO
from fraudstream.live.model_watch import SCORE_DRIFT_FOR_S, firing_time, first_at_or_after
from processor.metrics import BatchSummary
from producer.simulated import watermark_for


def model_figures(text: str) -> dict[str, float]:
    """Score PSI, recall and the validation recall from one scrape (-1: not known yet)."""
    found = {"psi": -1.0, "feature_psi": -1.0, "recall": -1.0, "baseline_recall": -1.0}
    found["baseline_history_days"] = -1.0
    found["alerts"] = -1.0
    found["warm"], found["state_days"] = 1.0, -1.0  # a processor without the gate: always warm
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "fraudstream_model_warm":
                found["warm"] = float(sample.value)
            elif sample.name == "fraudstream_model_state_days":
                found["state_days"] = float(sample.value)
            elif sample.name == "fraudstream_model_psi" and sample.labels.get("column") == "score":
                found["psi"] = float(sample.value)
            elif sample.name == "fraudstream_model_psi":
                found["feature_psi"] = max(found["feature_psi"], float(sample.value))
            elif sample.name == "fraudstream_model_alert_rate" and float(sample.value) >= 0:
                found["alerts"] = max(found["alerts"], 0.0) + float(sample.value)
            elif sample.name == "fraudstream_model_recall":
                found["recall"] = float(sample.value)
            elif sample.name == "fraudstream_model_baseline":
                measure = sample.labels.get("measure")
                if measure in ("recall", "history_days"):
                    found[f"baseline_{measure}"] = float(sample.value)
    return found


class Scraper:
    """Reads ``/metrics`` every ``every`` seconds on a thread; keeps (time, figures)."""

    def __init__(self, url: str, began: float, every: float) -> None:
        self.url, self.began, self.every = url, began, every
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.missed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="drift-scraper", daemon=True)

    def start(self) -> Scraper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                text = scrape_text(self.url)
            except ScrapeError:
                self.missed += 1  # a gap, as in Prometheus
            else:
                self.samples.append((time.monotonic() - self.began, model_figures(text)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from processor.streaming_job import start

    workdir = Path(tempfile.mkdtemp(prefix="fraudstream-drift-"))
    batches: list[tuple[float, BatchSummary]] = []
    lock = threading.Lock()
    load_before = results_load()
    with bench_stack(workdir) as stack:
        model = train(stack, workdir, days=14.0, warm_up=WARM_UP_DAYS)
        base = stack.model_copy(update={"model_dir": model})
        with model_server(base) as url:
            port = free_port()
            settings = fresh(
                base.model_copy(update={"model_endpoint_url": url}),
                workdir,
                watermark=watermark_for(args.rate, args.cards),
                starting_position="TRIM_HORIZON",
                metrics_port=port,
            )
            began = time.monotonic()

            def collect(summary: BatchSummary) -> None:
                with lock:
                    batches.append((time.monotonic() - began, summary))

            handle = start(settings, on_batch=collect)
            deadline = time.monotonic() + 300
            while not batches and time.monotonic() < deadline:  # the first (empty) batch
                time.sleep(0.2)
            if not batches:
                handle.stop()
                raise RuntimeError("the processor committed no batch within 300 s of starting")
            scraper = Scraper(f"http://127.0.0.1:{port}/metrics", began, args.scrape).start()
            cpu_before = time.process_time()
            producer = cli(
                environment(settings),
                *produce_args(
                    rate=args.rate,
                    duration=args.seconds,
                    cards=args.cards,
                    label_delay=60,
                    drift=args.drift,
                    drift_at=args.drift_at,
                ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            producer.wait()
            produced_at = time.monotonic() - began
            expected = round(args.rate * args.seconds)
            while time.monotonic() - began < produced_at + args.grace:
                with lock:
                    if sum(b.rows for _, b in batches) >= expected:
                        break
                time.sleep(1.0)
            time.sleep(2 * args.scrape)  # the last windows' figures
            scraper.stop()
            handle.stop()
            cpu_s = time.process_time() - cpu_before
    return summarize(args, batches, scraper.samples, produced_at, cpu_s, load_before)


def results_load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def summarize(
    args: argparse.Namespace,
    batches: list[tuple[float, BatchSummary]],
    samples: list[tuple[float, dict[str, float]]],
    produced_at: float,
    cpu_s: float,
    load_before: list[float],
) -> dict[str, Any]:
    with_rows = [(t, b) for t, b in batches if b.rows]
    if not with_rows:
        raise RuntimeError("the processor committed no batch with rows")
    first_t, first = with_rows[0]
    sent_from = first_t - (first.latency_max or 0.0)
    drift_at = args.drift_at if args.drift_at is not None else args.seconds / 2
    drift_start = sent_from + drift_at
    # when the processor had committed the drift's first transaction (a cross-check)
    done, reached = 0, None
    for t, b in with_rows:
        done += b.rows
        if reached is None and done > round(args.rate * drift_at):
            reached = t
    psi = [(t, f["psi"]) for t, f in samples if f["psi"] >= 0]
    # what the rule sees: `... and on() fraudstream_model_warm == 1`, so no value while cold
    gated = [(t, f["psi"] if f["warm"] >= 1 else -1.0) for t, f in samples if f["psi"] >= 0]
    warm_from = first_at_or_after([(t, f["warm"]) for t, f in samples], 0.0, lambda v: v >= 1)
    recall = [(t, f["recall"]) for t, f in samples if f["recall"] >= 0]
    baseline = next((f["baseline_recall"] for _, f in samples if f["baseline_recall"] >= 0), None)
    before = [v for t, v in psi if drift_start - 60 <= t < drift_start]
    # what unchanged traffic showed in the two minutes before: a drift is seen once above it
    prior = max((v for t, v in psi if drift_start - 120 <= t < drift_start), default=DRIFT_PSI)
    above_prior = firing_time(psi, drift_start, max(prior, DRIFT_PSI), SCORE_DRIFT_FOR_S)
    fired_before = firing_time(gated, 0.0, DRIFT_PSI, SCORE_DRIFT_FOR_S)
    ungated_before = firing_time(psi, 0.0, DRIFT_PSI, SCORE_DRIFT_FOR_S)
    crossing = first_at_or_after(gated, drift_start, lambda v: v > DRIFT_PSI)
    fired = firing_time(gated, drift_start, DRIFT_PSI, SCORE_DRIFT_FOR_S)
    warm_before = [v for t, v in gated if t < drift_start and v >= 0]
    recall_low = (
        first_at_or_after(recall, drift_start, lambda v: v < RECALL_RATIO * baseline)
        if baseline
        else None
    )
    recall_before = [v for t, v in recall if drift_start - 60 <= t < drift_start]
    latencies = [b.latency_p99 for _, b in with_rows if b.latency_p99 is not None]

    def since(t: float | None) -> float | None:
        return None if t is None else round(t - drift_start, 1)

    return {
        "drift": args.drift,
        "drift_at_s": drift_at,
        "rate": args.rate,
        "seconds": args.seconds,
        "cards": args.cards,
        "scrape_s": args.scrape,
        "master": "local[2]",
        "processed": sum(b.rows for _, b in with_rows),
        "produced": round(args.rate * args.seconds),
        "produced_after_s": round(produced_at - sent_from, 1),
        "drift_reached_processor_after_s": since(reached),
        "psi_last_minute_before": [round(min(before), 3), round(max(before), 3)]
        if before
        else None,
        "psi_above_threshold_after_s": since(crossing),
        "score_drift_alert_fires_after_s": since(fired),
        "score_drift_alert_fired_before_drift": fired_before is not None
        and fired_before < drift_start,
        "ungated_alert_would_have_fired_before_drift": ungated_before is not None
        and ungated_before < drift_start,
        "state_warm_after_s": since(warm_from),
        "baseline_history_days": next(
            (f["baseline_history_days"] for _, f in samples if f["baseline_history_days"] >= 0),
            None,
        ),
        "psi_warm_before_drift": [round(min(warm_before), 3), round(max(warm_before), 3)]
        if warm_before
        else None,
        "psi_max_2min_before": round(prior, 3),
        "psi_held_above_that_for_1min_after_s": since(above_prior),
        "target_s": 300,
        "within_target": fired is not None and fired - drift_start <= 300,
        "baseline_recall": baseline,
        "recall_last_minute_before": [round(min(recall_before), 3), round(max(recall_before), 3)]
        if recall_before
        else None,
        "recall_below_80pct_of_validation_after_s": since(recall_low),
        "recall_min_after": round(min(v for t, v in recall if t >= drift_start), 3)
        if any(t >= drift_start for t, _ in recall)
        else None,
        "batch_p99_latency_s_max": round(max(latencies), 2) if latencies else None,
        "driver_cpu_s": round(cpu_s, 1),
        "load_average_before": load_before,
        "load_average_after": results_load(),
        "series": [
            {
                "t": round(t - drift_start, 1),
                "psi": round(f["psi"], 4),
                "feature_psi": round(f["feature_psi"], 4),
                "alert_rate": round(f["alerts"], 4),
                "recall": round(f["recall"], 4),
                "warm": f["warm"],
                "state_days": round(f["state_days"], 2),
            }
            for t, f in samples
        ],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drift", default="fraud_x5", help="producer.drift spec")
    parser.add_argument("--drift-at", type=float, default=720.0, help="seconds into the run")
    parser.add_argument("--seconds", type=float, default=1080.0, help="seconds of production")
    parser.add_argument("--rate", type=int, default=500, help="transactions per second")
    parser.add_argument("--cards", type=int, default=2_000, help="simulated card population")
    parser.add_argument("--scrape", type=float, default=5.0, help="seconds between scrapes")
    parser.add_argument("--grace", type=float, default=120.0, help="seconds to catch up after")
    parser.add_argument("--name", default="drift_watch", help="results file name")
    args = parser.parse_args(argv)
    out = run(args)
    print({k: v for k, v in out.items() if k != "series"}, flush=True)
    print(f"wrote {results.write(args.name, out)}")
    return out


if __name__ == "__main__":
    main()
