"""Exactly-once accounting: what landed in the lake and the alerts table against what was sent.

Pure functions of ids and counts, no I/O, so the checks themselves are unit-tested. The suite
reads the lake and the table (:mod:`fraudstream.readback`) and hands the ids here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ALERT_DECISIONS = frozenset({"review", "block"})
SourceKey = tuple[str, str]
"""(shard id, sequence number): where a record sits on the stream, unique per delivery."""


@dataclass(frozen=True)
class Delivery:
    """Transactions: each sent one once in the lake, each flagged one once in the alerts."""

    sent: int  # distinct transactions the producer sent (its labels say which)
    rows_out: int  # lake transaction rows
    lake_duplicates: int  # rows beyond the first of a transaction
    lost: int  # sent transactions with no lake row
    unexpected: int  # lake rows of transactions never sent
    flagged: int  # distinct transactions decided review or block
    alerts: int  # alert items
    alert_duplicates: int  # items beyond the first of a transaction
    alerts_lost: int  # flagged transactions without an alert item
    alerts_unexpected: int  # items of transactions not flagged

    @property
    def duplicates(self) -> int:
        return self.lake_duplicates + self.alert_duplicates

    @property
    def losses(self) -> int:
        return self.lost + self.alerts_lost

    @property
    def exactly_once(self) -> bool:
        return not (self.duplicates or self.losses or self.unexpected or self.alerts_unexpected)


def _extra(counts: Counter[str]) -> int:
    return sum(n - 1 for n in counts.values() if n > 1)


def account(
    sent: Iterable[str],
    lake_rows: Iterable[tuple[str, str]],
    alert_items: Mapping[str, int],
) -> Delivery:
    """Check delivery. ``sent``: transaction ids the producer sent; ``lake_rows``: (transaction
    id, decision) per lake row; ``alert_items``: items per transaction id in the alerts table."""
    expected = set(sent)
    ids: Counter[str] = Counter()
    flagged: set[str] = set()
    for transaction_id, decision in lake_rows:
        ids[transaction_id] += 1
        if decision in ALERT_DECISIONS:
            flagged.add(transaction_id)
    alerts = Counter({k: v for k, v in alert_items.items() if v})
    return Delivery(
        sent=len(expected),
        rows_out=sum(ids.values()),
        lake_duplicates=_extra(ids),
        lost=len(expected - set(ids)),
        unexpected=sum(n for t, n in ids.items() if t not in expected),
        flagged=len(flagged),
        alerts=sum(alerts.values()),
        alert_duplicates=_extra(alerts),
        alerts_lost=len(flagged - set(alerts)),
        alerts_unexpected=sum(n for t, n in alerts.items() if t not in flagged),
    )


@dataclass(frozen=True)
class Quarantine:
    """Malformed records: each one once in quarantine, with the reason it was sent to earn."""

    sent: int  # malformed records put on the stream
    quarantined: int  # quarantine rows of the run (any record)
    lost: int  # malformed records with no quarantine row
    duplicates: int  # quarantine rows beyond the first of a record
    wrong_reason: int  # malformed records quarantined under another reason
    unexpected: int  # quarantine rows of records that were not sent as malformed
    by_reason: dict[str, int] = field(default_factory=dict)  # quarantine rows per reason

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.wrong_reason or self.unexpected)


def check_quarantine(
    sent: Mapping[SourceKey, str], rows: Iterable[tuple[SourceKey, str]]
) -> Quarantine:
    """``sent``: the expected reason per malformed record's stream position; ``rows``: each
    quarantine row's stream position and reason."""
    seen: Counter[SourceKey] = Counter()
    reasons: Counter[str] = Counter()
    wrong = unexpected = 0
    for key, reason in rows:
        seen[key] += 1
        reasons[reason] += 1
        if key not in sent:
            unexpected += 1
        elif seen[key] == 1 and sent[key] != reason:
            wrong += 1
    return Quarantine(
        sent=len(sent),
        quarantined=sum(seen.values()),
        lost=sum(1 for key in sent if key not in seen),
        duplicates=sum(n - 1 for n in seen.values() if n > 1),
        wrong_reason=wrong,
        unexpected=unexpected,
        by_reason=dict(sorted(reasons.items())),
    )
