"""How big and how long each scenario runs: the full profile (``make faults``) and the short
one (CI, and ``--short``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    cards: int  # simulated card population
    rate: int  # producer transactions per second (wall clock)
    duration: float  # producer seconds, every scenario but the model outage
    max_records_per_trigger: int  # admission control: several batches per run
    kill_after_batches: int  # batches with rows committed before the processor is killed
    outage_seconds: float  # how long the model server stays down
    outage_rate: int  # producer rate during the model-outage scenario
    outage_duration: float  # producer seconds of that scenario (covers before, during, after)
    breaker_reset_seconds: float  # the scoring client's circuit-breaker probe interval
    malformed: int  # malformed records in the flood
    drain_timeout: float  # most seconds to wait for the processor to catch up

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Profile(
    name="full",
    cards=2_000,
    rate=400,
    duration=25.0,
    max_records_per_trigger=2_000,
    kill_after_batches=2,
    outage_seconds=30.0,
    outage_rate=150,
    outage_duration=70.0,
    breaker_reset_seconds=30.0,  # the production default
    malformed=10_000,
    drain_timeout=300.0,
)

SHORT = Profile(
    name="short",
    cards=500,
    rate=200,
    duration=6.0,
    max_records_per_trigger=400,
    kill_after_batches=1,
    outage_seconds=8.0,
    outage_rate=60,
    outage_duration=25.0,
    breaker_reset_seconds=3.0,
    malformed=2_000,
    drain_timeout=300.0,
)

PROFILES = {p.name: p for p in (FULL, SHORT)}
