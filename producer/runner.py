"""The two ways to feed the stream: live generation at a steady rate, and replay of history.

Both loops are plain functions of injected clocks so tests can drive them; they stop early when
``should_stop()`` turns true (the CLI wires it to Ctrl-C) and always finish by flushing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from producer.blocks import BlockGenerator
from producer.drift import Drift
from producer.encoding import BlockEncoder
from producer.generator import GeneratedTransaction, TransactionGenerator
from producer.session import ProduceSession, Summary

Tick = Callable[[Summary], None]
# How long an event may wait in the producer: each tick sends one PutRecords a stream, so the
# tick sets the calls a second (their overhead, in the producer and the emulator, is most of
# what sending costs). 100 ms is the KPL's own default buffering time; at 10,000 events/s,
# 50 ms cost 23.9 + 9.9 µs an event, 100 ms 20.7 + 7.3 (docs/benchmarks.md).
TICK_SECONDS = 0.1


def _never() -> bool:
    return False


def run_live(
    session: ProduceSession,
    generator: TransactionGenerator,
    *,
    duration: float,
    tick_seconds: float = TICK_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = _never,
    on_tick: Tick | None = None,
) -> Summary:
    """Send the generator's transactions when their event time comes (event time = wall time
    from the generator's start), so the achieved rate is the generator's rate; labels are
    released ``label delay`` seconds of wall time after their transaction.

    The loop wakes every ``tick_seconds`` and sends what came due since (one PutRecords for
    all shards' aggregates when aggregating), so a transaction waits at most one tick in the
    producer."""
    start = generator.config.start
    end = start + timedelta(seconds=duration)
    began = clock()
    item = next(generator)
    while not should_stop():
        elapsed = clock() - began
        now = start + timedelta(seconds=min(elapsed, duration))
        while item.event.event_time <= now and item.event.event_time < end:
            session.send(item, label_from=item.event.event_time)
            item = next(generator)
        session.flush()
        session.release_labels(now)
        if on_tick is not None:
            on_tick(session.summary)
        if elapsed >= duration:
            break
        until_next = (item.event.event_time - now).total_seconds()
        wait = min(max(tick_seconds, until_next), duration - elapsed)
        if wait > 0:
            sleep(wait)
    session.summary.interrupted = should_stop()
    return session.finish()


def run_live_blocks(
    session: ProduceSession,
    generator: BlockGenerator,
    *,
    duration: float,
    label_delay: timedelta,
    tick_seconds: float = TICK_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = _never,
    on_tick: Tick | None = None,
    drift: Drift | None = None,
    drift_at: float = 0.0,
) -> Summary:
    """:func:`run_live` for the block generator (what ``fraudstream produce --clock live``
    runs): every tick, the transactions whose event time has come are generated as one
    block, encoded and queued with their labels; then everything is sent (one PutRecords for
    all shards' aggregates when aggregating) and the labels whose time has come are released.
    A ``drift`` applies to the events from ``drift_at`` seconds into the run on."""
    encoder = BlockEncoder(generator)
    start = generator.config.start
    delay_ms = label_delay // timedelta(milliseconds=1)
    card_ids = generator.card_ids
    drift_us = round((start.timestamp() + drift_at) * 1e6)
    surged = False
    began = clock()
    while not should_stop():
        elapsed = clock() - began
        now = start + timedelta(seconds=min(elapsed, duration))
        if drift is not None and not surged and elapsed >= drift_at:
            generator.scale_fraud(drift.fraud)
            surged = True
        block = generator.until(now)
        if drift is not None:
            drift.on_block(block, drift_us)
        if len(block):
            events, labels, due = encoder.encode(block, delay_ms)
            frauds = [s for s, f in zip(block.scenarios, block.frauds, strict=True) if f]
            keys = [card_ids[c] for c in block.cards]
            session.send_block(events, keys, labels, due, frauds)
        session.flush()
        session.release_block_labels(int(now.timestamp() * 1000))
        if on_tick is not None:
            on_tick(session.summary)
        if elapsed >= duration:
            break
        sleep(min(tick_seconds, duration - elapsed))
    session.summary.interrupted = should_stop()
    return session.finish()


def run_replay(
    session: ProduceSession,
    transactions: Iterable[GeneratedTransaction],
    *,
    max_rate: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = _never,
    on_tick: Tick | None = None,
    tick_every: int = 2000,
    tick_seconds: float = TICK_SECONDS,
) -> Summary:
    """Send historical transactions in their (event-time) order as fast as allowed; a label is
    released once replay reaches its label time in event time. With ``max_rate``, the loop
    sends and sleeps in steps of ``tick_seconds`` (one PutRecords for all shards'
    aggregates when aggregating)."""
    if max_rate is not None and max_rate <= 0:
        raise ValueError("max rate must be positive")
    began = clock()
    for count, item in enumerate(transactions, start=1):
        if should_stop():
            session.summary.interrupted = True
            break
        session.release_labels(item.event.event_time)
        session.send(item, label_from=item.event.event_time)
        if max_rate is not None:
            ahead = count / max_rate - (clock() - began)
            if ahead >= tick_seconds:
                session.flush()
                sleep(ahead)
        if on_tick is not None and count % tick_every == 0:
            on_tick(session.summary)
    return session.finish()
