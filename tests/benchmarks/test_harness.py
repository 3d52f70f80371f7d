"""The benchmark harness's pure parts."""

from benchmarks.harness import rate_line


def test_rate_line_reads_the_run_with_the_scripts_detail_before_the_verdict() -> None:
    run = {
        "rate": 1000,
        "produced": 60_000,
        "processed": 59_876,
        "processed_per_s": 998,
        "e2e_latency": {"p50_ms": 412},
        "sustained": False,
    }
    assert rate_line(run, "p99 980 ms  batch p50 700 ms") == (
        "rate  1,000/s: processed  59,876/60,000 (998/s)  e2e p50 412 ms "
        "p99 980 ms  batch p50 700 ms sustained=False"
    )
