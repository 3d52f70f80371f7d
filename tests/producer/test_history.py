from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc

from fraudstream.events import arrow_schema
from producer.history import generate_history, history_schema


def test_history_table_shape_labels_and_determinism() -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    table = generate_history(
        cards=400, days=5, seed=3, fraud_rate=0.02, start=start, label_delay=timedelta(minutes=5)
    )
    assert table.schema == history_schema()
    assert table.schema.names[: len(arrow_schema())] == arrow_schema().names
    assert 400 * 3 * 5 * 0.8 < table.num_rows < 400 * 3 * 5 * 1.2  # ~3 per card per day
    times = table["event_time"].to_pylist()
    assert times == sorted(times) and times[0] >= start and times[-1] < start + timedelta(days=5)
    delays = pc.subtract(table["label_time"], table["event_time"]).to_pylist()
    assert set(delays) == {timedelta(minutes=5)}
    fraud_share = sum(table["is_fraud"].to_pylist()) / table.num_rows
    assert 0.01 < fraud_share < 0.04
    again = generate_history(
        cards=400, days=5, seed=3, fraud_rate=0.02, start=start, label_delay=timedelta(minutes=5)
    )
    assert again.equals(table)


def test_history_at_live_density() -> None:
    table = generate_history(
        cards=200, days=60 / 86_400, rate=50.0, start=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert 2_500 < table.num_rows < 3_500  # ~50/s for a minute, Poisson


def test_simulated_runs_end_before_now_and_need_a_wide_watermark() -> None:
    import itertools

    from producer.generator import TransactionGenerator
    from producer.simulated import simulated_config, speedup, watermark_for

    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    config = simulated_config(
        events=20_000, cards=2_000, seed=1, fraud_rate=0.01, token_key=b"k", now=now
    )
    events = list(itertools.islice(TransactionGenerator(config), 20_000))
    last = events[-1].event.event_time
    assert now - timedelta(hours=4) < last < now  # ends about an hour before now
    assert speedup(1_000, 2_000) == 1_000 / (2_000 * 3 / 86_400)
    assert watermark_for(1_000, 2_000, wall_seconds=10) == "41 hours"  # 14,400x: 40 h + 1


def test_simulated_traffic_of_a_small_population_ends_before_now() -> None:
    """The expected-rate placement alone ran hours into the future for 500 cards (events the
    processor then quarantines as future_event_time); the placement now checks the real end."""
    import itertools
    from datetime import timedelta

    from producer.generator import TransactionGenerator
    from producer.simulated import END_MARGIN, simulated_config

    for hour in (3, 9, 15, 21):
        now = datetime(2026, 11, 29, hour, 7, tzinfo=UTC)
        config = simulated_config(
            events=15_000, cards=500, seed=12, fraud_rate=0.05, token_key=b"k", now=now
        )
        events = list(itertools.islice(TransactionGenerator(config), 15_000))
        last = max(g.event.event_time for g in events)
        assert last <= now - END_MARGIN / 2
        assert last >= now - timedelta(days=2)  # still recent: placed, not pushed far back


def test_live_traffic_warns_when_cards_transact_unrealistically_often() -> None:
    from producer.simulated import live_card_warning

    warning = live_card_warning(1_000, 10_000)  # produce's old defaults: a card every 10 s
    assert warning is not None
    assert "every 10 s" in warning and "--clock simulated" in warning
    assert "--cards 3,600,000 or more" in warning
    assert live_card_warning(100, 360_000) is None  # one transaction an hour per card
    assert live_card_warning(100, 359_999) is not None
