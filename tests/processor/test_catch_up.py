"""The catch-up estimate: backlog in records and time to catch up, from readings of how far
behind the streams' tip the processor is."""

from __future__ import annotations

import pytest

from processor.catch_up import WINDOW_S, CatchUp
from processor.metrics import BatchSummary, ProcessorMetrics
from processor.streaming_job import progress_line


def test_a_processor_gaining_on_the_stream_has_an_eta_and_a_backlog() -> None:
    catch_up = CatchUp()
    # 100 s behind, gaining 2 s of stream time per second, reading 1,000 rows per wall second
    for second in range(0, 21, 5):
        catch_up.processed(5_000 if second else 0)
        catch_up.observe(float(second), 100.0 - 2.0 * second)
    assert catch_up.behind_s == 60.0
    assert catch_up.gain() == pytest.approx(2.0)
    assert catch_up.eta_s() == pytest.approx(30.0)
    # 20,000 rows while consuming 20 s of wall time plus 40 s gained: 333 rows per stream second
    assert catch_up.backlog_records() == pytest.approx(60.0 * 20_000 / 60.0)


def test_no_eta_when_falling_behind_or_with_too_few_readings() -> None:
    catch_up = CatchUp()
    catch_up.observe(0.0, 10.0)
    assert catch_up.eta_s() is None and catch_up.gain() is None
    for second in (1.0, 2.0, 3.0):
        catch_up.observe(second, 10.0 + second)
    assert catch_up.gain() == pytest.approx(-1.0) and catch_up.eta_s() is None


def test_old_readings_are_forgotten() -> None:
    catch_up = CatchUp()
    for second in range(0, int(WINDOW_S) * 3, 10):
        catch_up.observe(float(second), 1.0)
    assert catch_up.readings[-1][0] - catch_up.readings[0][0] <= WINDOW_S


def test_metrics_and_the_progress_line_show_the_backlog() -> None:
    now = [0.0]
    metrics = ProcessorMetrics(clock=lambda: now[0])
    for batch in range(4):
        summary = BatchSummary(batch, 2_000, {}, {}, 1.0, None, None, None)
        metrics.record(summary)
        metrics.record_source(millis_behind={"transactions/shard-0": 90_000 - 30_000 * batch})
        now[0] += 10.0
    assert metrics.metric("fraudstream_catch_up_eta_seconds")._value.get() == pytest.approx(0.0)
    line = progress_line(summary, metrics, 8_000)
    assert line.startswith("batch 3: 2,000 transactions (8,000 so far), 0 s behind")
    metrics.record_source(millis_behind={"transactions/shard-0": 1_000_000})
    assert "behind" in progress_line(summary, metrics, 8_000)
