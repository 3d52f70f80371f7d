"""The live view's numbers from the processor's Prometheus endpoint: pure logic, no I/O.

:func:`parse` reads one scrape (Prometheus text format) into a :class:`Scrape` of cumulative
values. :class:`LiveMetrics` takes successive scrapes with the time each was taken and turns
the differences into what a person watches: throughput over the last interval and over a short
moving window, end-to-end latency p50/p99 from the histogram buckets of that window (not since
start), decisions, quarantine, late events and the scoring-path split, plus a bounded history
for the charts.

Counter resets: a processor restart starts its counters from zero again. Like Prometheus's
``rate()``, a counter that went down (or whose ``_created`` time moved, the sign of a new
process) counts its whole current value as the increase since the restart, so rates are never
negative and the running totals here survive restarts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from fraudstream.live.model_health import model_health
from fraudstream.metric_names import PROCESSOR_METRICS

ROWS = "fraudstream_rows_total"
DECISIONS = "fraudstream_decisions_total"
QUARANTINED = "fraudstream_quarantined_total"
LATE = "fraudstream_late_events_total"
DUPLICATES = "fraudstream_duplicates_total"
SCORED = "fraudstream_scored_total"
KINESIS_RECORDS = "fraudstream_kinesis_records_total"
LATENCY = "fraudstream_end_to_end_latency_seconds"
BATCH_SECONDS = "fraudstream_batch_seconds"
MILLIS_BEHIND = "fraudstream_kinesis_millis_behind_latest"
LAST_BATCH_ID = "fraudstream_last_batch_id"
BACKLOG = "fraudstream_backlog_records"
CATCH_UP_ETA = "fraudstream_catch_up_eta_seconds"

OUTCOMES = ("approve", "review", "block")
FALLBACK_PATH = "fallback"

_LABELS = {m.name: m.labels for m in PROCESSOR_METRICS}


class ScrapeError(ValueError):
    """The endpoint's answer is not the Prometheus text format."""


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts by upper bound (the last bound is +Inf), with count and sum."""

    bounds: tuple[float, ...] = ()
    cumulative: tuple[float, ...] = ()
    count: float = 0.0
    total: float = 0.0

    def increase_since(self, before: Histogram | None, *, reset: bool) -> Histogram:
        """Observations since ``before``; the whole histogram after a reset or a layout change."""
        if before is None or reset or before.bounds != self.bounds:
            return self
        if self.count < before.count or any(
            now < then for now, then in zip(self.cumulative, before.cumulative, strict=True)
        ):
            return self
        return Histogram(
            self.bounds,
            tuple(now - then for now, then in zip(self.cumulative, before.cumulative, strict=True)),
            self.count - before.count,
            self.total - before.total,
        )

    def plus(self, other: Histogram) -> Histogram:
        if not self.bounds:
            return other
        if not other.bounds:
            return self
        if other.bounds != self.bounds:  # a new layout (new processor version): start over
            return other
        return Histogram(
            self.bounds,
            tuple(a + b for a, b in zip(self.cumulative, other.cumulative, strict=True)),
            self.count + other.count,
            self.total + other.total,
        )

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile by linear interpolation inside its bucket, as Prometheus's
        ``histogram_quantile``; None without observations. A quantile that falls in the +Inf
        bucket is reported as the largest finite bound."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q}")
        if not self.cumulative or self.cumulative[-1] <= 0:
            return None
        rank = q * self.cumulative[-1]
        lower_bound, lower_count = 0.0, 0.0
        for bound, cumulative in zip(self.bounds, self.cumulative, strict=True):
            if cumulative >= rank and cumulative > lower_count:
                if math.isinf(bound):
                    return lower_bound
                inside = (rank - lower_count) / (cumulative - lower_count)
                return lower_bound + (bound - lower_bound) * inside
            lower_bound, lower_count = bound, cumulative
        return lower_bound


Series = dict[str, float]  # label value ("" when unlabelled) -> value


@dataclass(frozen=True)
class Scrape:
    """One reading of the endpoint: counters and gauges by name and label, histograms by name,
    and the earliest ``_created`` time (the exporting process's start, None when not exported)."""

    counters: dict[str, Series] = field(default_factory=dict)
    gauges: dict[str, Series] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    created: float | None = None


def _label(name: str, labels: Mapping[str, str]) -> str:
    wanted = _LABELS.get(name, tuple(sorted(k for k in labels if k != "le")))
    return ",".join(labels.get(k, "") for k in wanted)


def _bound(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


def parse(text: str) -> Scrape:
    """Read the processor's exposition (Prometheus text format); raise :class:`ScrapeError` if
    it is not one, or lacks the processor's row counter."""
    counters: dict[str, Series] = {}
    gauges: dict[str, Series] = {}
    buckets: dict[str, dict[float, float]] = {}
    counts: dict[str, float] = {}
    sums: dict[str, float] = {}
    created: list[float] = []
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as error:
        raise ScrapeError(f"not a Prometheus exposition: {error}") from error
    for family in families:
        for sample in family.samples:
            name, value = sample.name, float(sample.value)
            if name.endswith("_created"):
                created.append(value)
            elif family.type == "counter" and name.endswith("_total"):
                counters.setdefault(name, {})[_label(name, sample.labels)] = value
            elif family.type == "gauge":
                gauges.setdefault(name, {})[_label(name, sample.labels)] = value
            elif family.type == "histogram" and name.endswith("_bucket"):
                base = name.removesuffix("_bucket")
                buckets.setdefault(base, {})[_bound(sample.labels["le"])] = value
            elif family.type == "histogram" and name.endswith("_count"):
                counts[name.removesuffix("_count")] = value
            elif family.type == "histogram" and name.endswith("_sum"):
                sums[name.removesuffix("_sum")] = value
    if ROWS not in counters:
        raise ScrapeError(f"no {ROWS} in the exposition: is this the processor's endpoint?")
    histograms = {
        base: Histogram(
            tuple(sorted(by_bound)),
            tuple(by_bound[b] for b in sorted(by_bound)),
            counts.get(base, max(by_bound.values(), default=0.0)),
            sums.get(base, 0.0),
        )
        for base, by_bound in buckets.items()
    }
    return Scrape(counters, gauges, histograms, min(created) if created else None)


def _increase(now: Series, before: Series | None, *, reset: bool) -> Series:
    if before is None or reset:
        return dict(now)
    out: Series = {}
    for label, value in now.items():
        then = before.get(label, 0.0)
        out[label] = value if value < then else value - then
    return out


def _add(into: dict[str, Series], more: Mapping[str, Series]) -> None:
    for name, series in more.items():
        target = into.setdefault(name, {})
        for label, value in series.items():
            target[label] = target.get(label, 0.0) + value


@dataclass(frozen=True)
class Interval:
    """What happened between two successive scrapes (monotonic seconds ``start``..``end``)."""

    start: float
    end: float
    counters: dict[str, Series]
    latency: Histogram
    restarted: bool

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class HistoryPoint:
    """One point of the charts: wall time (epoch seconds) and the windowed figures then."""

    time: float
    rows_per_second: float | None
    latency_p50: float | None
    latency_p99: float | None


@dataclass(frozen=True)
class Summary:
    """The live numbers, JSON-ready (seconds for latencies, epoch seconds for times)."""

    updated_at: float | None = None
    window_seconds: float = 0.0
    rows_total: int = 0
    rows_per_second: float | None = None  # over the last scrape interval
    rows_per_second_window: float | None = None  # over the moving window
    latency_p50: float | None = None  # over the window
    latency_p99: float | None = None
    latency_observations: int = 0  # in the window
    decisions_total: dict[str, int] = field(default_factory=dict)
    decisions_recent: dict[str, int] = field(default_factory=dict)
    quarantined_total: int = 0
    quarantined_recent: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    late_events_total: int = 0
    late_events_recent: int = 0
    duplicates_total: int = 0
    scored_total: dict[str, int] = field(default_factory=dict)
    fallback_share: float | None = None  # share of the window's scores from the fallback
    fallback_share_total: float | None = None
    last_batch_id: int | None = None
    millis_behind_latest: float | None = None  # worst shard
    backlog_records: int | None = None  # estimated records waiting on the streams
    catch_up_seconds: float | None = None  # estimated time to reach the tip; None: not gaining
    restarts: int = 0  # processor restarts seen (counter resets)
    model: dict[str, Any] | None = None  # the last monitoring window (model_health.ModelHealth)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ints(series: Series | None, keys: Iterable[str] = ()) -> dict[str, int]:
    out = {k: 0 for k in keys}
    for label, value in (series or {}).items():
        out[label or "unknown"] = round(value)
    return out


def _known(value: float | None) -> float | None:
    """A catch-up gauge's value, or None where the processor reports -1 (unknown)."""
    return None if value is None or value < 0 or math.isnan(value) else value


def _share(scored: Series | None) -> float | None:
    total = sum((scored or {}).values())
    if total <= 0:
        return None
    return (scored or {}).get(FALLBACK_PATH, 0.0) / total


class LiveMetrics:
    """Successive scrapes in, live figures out. Not thread-safe: the collector holds a lock.

    ``window``: seconds of the moving window (throughput, latency percentiles, recent counts);
    ``history_seconds``: how much chart history to keep.
    """

    def __init__(self, window: float = 10.0, history_seconds: float = 600.0) -> None:
        if window <= 0 or history_seconds <= 0:
            raise ValueError("window and history_seconds must be positive")
        self.window = window
        self.history_seconds = history_seconds
        self._last: Scrape | None = None
        self._last_at: float | None = None
        self._updated_wall: float | None = None
        self._intervals: deque[Interval] = deque()
        self._totals: dict[str, Series] = {}
        self._history: deque[HistoryPoint] = deque()
        self._restarts = 0

    def observe(self, scrape: Scrape, at: float, wall: float) -> None:
        """Take a scrape made at monotonic time ``at`` (seconds) and wall time ``wall``.

        A scrape at the same instant as the previous one adds nothing and is ignored; one from
        before it is an error."""
        if self._last is None or self._last_at is None:
            _add(self._totals, scrape.counters)
        else:
            if at < self._last_at:
                raise ValueError("scrapes must arrive in time order")
            if at == self._last_at:
                return
            reset = (
                scrape.created is not None
                and self._last.created is not None
                and scrape.created > self._last.created
            )
            counters = {
                name: _increase(series, self._last.counters.get(name), reset=reset)
                for name, series in scrape.counters.items()
            }
            went_down = any(
                value < self._last.counters.get(name, {}).get(label, 0.0)
                for name, series in scrape.counters.items()
                for label, value in series.items()
            )
            latency = scrape.histograms.get(LATENCY, Histogram()).increase_since(
                self._last.histograms.get(LATENCY), reset=reset
            )
            restarted = reset or went_down
            self._restarts += int(restarted)
            self._intervals.append(Interval(self._last_at, at, counters, latency, restarted))
            _add(self._totals, counters)
            while self._intervals and self._intervals[0].end <= at - self.window:
                self._intervals.popleft()
        self._last, self._last_at, self._updated_wall = scrape, at, wall
        if self._intervals:
            rate, p50, p99 = self._windowed()
            self._history.append(HistoryPoint(wall, rate, p50, p99))
        while self._history and self._history[0].time < wall - self.history_seconds:
            self._history.popleft()

    def _window_sums(self) -> tuple[dict[str, Series], Histogram, float]:
        counters: dict[str, Series] = {}
        latency = Histogram()
        for interval in self._intervals:
            _add(counters, interval.counters)
            latency = latency.plus(interval.latency)
        covered = self._intervals[-1].end - self._intervals[0].start if self._intervals else 0.0
        return counters, latency, covered

    def _windowed(self) -> tuple[float | None, float | None, float | None]:
        counters, latency, covered = self._window_sums()
        rows = sum(counters.get(ROWS, {}).values())
        rate = rows / covered if covered > 0 else None
        return rate, latency.quantile(0.5), latency.quantile(0.99)

    def summary(self) -> Summary:
        if self._last is None:
            return Summary(window_seconds=self.window)
        counters, latency, covered = self._window_sums()
        last = self._intervals[-1] if self._intervals else None
        last_rows = sum(last.counters.get(ROWS, {}).values()) if last else 0.0
        gauges = self._last.gauges
        behind = gauges.get(MILLIS_BEHIND) or {}
        batch = (gauges.get(LAST_BATCH_ID) or {}).get("")
        backlog = _known((gauges.get(BACKLOG) or {}).get(""))
        eta = _known((gauges.get(CATCH_UP_ETA) or {}).get(""))
        quarantined = self._totals.get(QUARANTINED, {})
        return Summary(
            updated_at=self._updated_wall,
            window_seconds=self.window,
            rows_total=round(sum(self._totals.get(ROWS, {}).values())),
            rows_per_second=last_rows / last.seconds if last and last.seconds > 0 else None,
            rows_per_second_window=(
                sum(counters.get(ROWS, {}).values()) / covered if covered > 0 else None
            ),
            latency_p50=latency.quantile(0.5),
            latency_p99=latency.quantile(0.99),
            latency_observations=round(latency.cumulative[-1]) if latency.cumulative else 0,
            decisions_total=_ints(self._totals.get(DECISIONS), OUTCOMES),
            decisions_recent=_ints(counters.get(DECISIONS), OUTCOMES),
            quarantined_total=round(sum(quarantined.values())),
            quarantined_recent=round(sum(counters.get(QUARANTINED, {}).values())),
            quarantined_by_reason=_ints(quarantined),
            late_events_total=round(sum(self._totals.get(LATE, {}).values())),
            late_events_recent=round(sum(counters.get(LATE, {}).values())),
            duplicates_total=round(sum(self._totals.get(DUPLICATES, {}).values())),
            scored_total=_ints(self._totals.get(SCORED)),
            fallback_share=_share(counters.get(SCORED)),
            fallback_share_total=_share(self._totals.get(SCORED)),
            last_batch_id=None if batch is None or batch < 0 else round(batch),
            millis_behind_latest=max(behind.values()) if behind else None,
            backlog_records=None if backlog is None else round(backlog),
            catch_up_seconds=eta,
            restarts=self._restarts,
            model=health.to_json() if (health := model_health(gauges)) else None,
        )

    def history(self) -> list[HistoryPoint]:
        return list(self._history)
