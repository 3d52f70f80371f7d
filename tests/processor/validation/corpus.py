"""Payloads for the validation parity tests: good ones and at least one per reason code.

Each entry is (label, raw bytes). The expected verdict is never written here: the tests ask
:func:`fraudstream.events.parse_event` (the reference) and demand that Spark agrees.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

GOOD: dict[str, Any] = {
    "schema_version": 1,
    "transaction_id": "tx-000001",
    "card_id": "tok_0123456789abcdef_4242",
    "merchant_id": "m-0042",
    "amount": 42.5,
    "currency": "EUR",
    "event_time": "2026-11-22T11:59:30.123Z",
    "merchant_category": "grocery",
    "channel": "pos",
    "country": "FR",
    "lat": 48.85,
    "lon": 2.35,
}
_ABSENT = object()


def event(**changes: Any) -> bytes:
    """GOOD with fields replaced (``_ABSENT`` removes one), compact JSON."""
    data = {**GOOD}
    for key, value in changes.items():
        if value is _ABSENT:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _replace(old: str, new: str) -> bytes:
    return event().replace(old.encode(), new.encode())


def _at(offset: timedelta) -> str:
    return (NOW + offset).isoformat(timespec="microseconds").replace("+00:00", "Z")


CORPUS: list[tuple[str, bytes]] = [
    # --- valid -------------------------------------------------------------------------
    ("good", event()),
    (
        "good minimal",
        event(
            merchant_category=_ABSENT, channel=_ABSENT, country=_ABSENT, lat=_ABSENT, lon=_ABSENT
        ),
    ),
    ("good optional nulls", event(merchant_category=None, channel=None, lat=None, lon=None)),
    ("good offset", event(event_time="2026-11-22T17:29:30+05:30")),
    ("good negative zero offset", event(event_time="2026-11-22T11:59:30-00:00")),
    ("good micros", event(event_time="2026-11-22T11:59:30.123456Z")),
    ("good tenths", event(event_time="2026-11-22T11:59:30.1Z")),
    ("good leap day", event(event_time="2024-02-29T00:00:00Z")),
    ("good old year", event(event_time="1000-01-01T00:00:00+01:00")),
    ("good exactly max future", event(event_time=_at(timedelta(minutes=5)))),
    ("good integer amount", event(amount=12)),
    ("good exponent amount", event(amount=1e2)),
    ("good max amount", event(amount=1_000_000)),
    ("good tiny amount", event(amount=0.01)),
    ("good amount rounding to max", _replace("42.5", "1000000.00000000001")),
    ("good bounds", event(lat=-90, lon=180)),
    ("good bounds 2", event(lat=90.0, lon=-180.0)),
    ("good pretty printed", json.dumps(GOOD, indent=2).encode()),
    ("good escaped key", _replace('"amount"', '"\\u0061mount"')),
    ("good escaped value", _replace('"grocery"', '"gro\\u0063ery \\"bio\\""')),
    ("good unicode", event(merchant_category="Café 🍰 ünïcode")),
    ("good utf8 bom", b"\xef\xbb\xbf" + event()),
    ("good trailing newline currency (python $)", event(currency="EUR\n")),
    ("good non-canonical space", event(event_time="2026-11-22 11:59:30Z")),
    ("good non-canonical lowercase z", event(event_time="2026-11-22T11:59:30z")),
    ("good non-canonical 7 digits", event(event_time="2026-11-22T11:59:30.1234567Z")),
    ("good non-canonical no seconds", event(event_time="2026-11-22T11:59Z")),
    ("good non-canonical basic offset", event(event_time="2026-11-22T17:29:30+0530")),
    ("good large offset", event(event_time="2026-11-23T11:58:30+23:59")),
    ("good offset minute 60 (python)", event(event_time="2026-11-22T17:00:30+05:60")),
    ("good duplicate key (python keeps last)", _replace('"amount":42.5', '"amount":-1,"amount":7')),
    ("good max length id", event(merchant_id="m" * 64)),
    # --- bad_json ------------------------------------------------------------------------
    ("bad_json text", b"not json"),
    ("bad_json empty", b""),
    ("bad_json array", b"[1,2]"),
    ("bad_json string", b'"a string"'),
    ("bad_json number", b"42"),
    ("bad_json trailing text", event() + b" x"),
    ("bad_json two objects", event() + event()),
    ("bad_json truncated", event()[:-5]),
    ("bad_json invalid utf-8", b'{"schema_version":1,"x":"\xff\xfe"}'),
    ("bad_json single quotes", b"{'schema_version':1}"),
    ("bad_json trailing comma", event()[:-1] + b",}"),
    ("bad_json leading zero", _replace("42.5", "042.5")),
    ("bad_json comment", event()[:-1] + b"/* c */}"),
    # --- missing_field -------------------------------------------------------------------
    ("missing schema_version", event(schema_version=_ABSENT)),
    ("null schema_version", event(schema_version=None)),
    ("missing transaction_id", event(transaction_id=_ABSENT)),
    ("null card_id", event(card_id=None)),
    ("missing event_time", event(event_time=_ABSENT)),
    ("missing amount", event(amount=_ABSENT)),
    ("empty object", b"{}"),
    # --- unknown_schema_version ----------------------------------------------------------
    ("schema 2", event(schema_version=2)),
    ("schema string", event(schema_version="1")),
    ("schema float", event(schema_version=1.0)),
    ("schema bool", event(schema_version=True)),
    ("schema huge", _replace('"schema_version":1', '"schema_version":100000000000000000000')),
    ("schema nested", event(schema_version=[1])),
    # --- unknown_field -------------------------------------------------------------------
    ("unknown field", event(foo="bar")),
    ("unknown null field", event(foo=None)),
    ("unknown capitalised", event(Amount=1.0)),
    ("unknown several", event(zeta=1, alpha=2)),
    ("unknown nested", event(extra={"a": [1, 2]})),
    # --- wrong_type ----------------------------------------------------------------------
    ("id number", event(transaction_id=123)),
    ("amount string", event(amount="42.5")),
    ("amount bool", event(amount=True)),
    ("amount array", event(amount=[42.5])),
    ("amount object", event(amount={"v": 1})),
    ("event_time number", event(event_time=1700000000)),
    ("channel number", event(channel=1)),
    ("lat string", event(lat="48.85")),
    ("category bool", event(merchant_category=False)),
    # --- bad_amount ----------------------------------------------------------------------
    ("amount zero", event(amount=0)),
    ("amount negative", event(amount=-1)),
    ("amount negative zero", _replace("42.5", "-0.0")),
    ("amount over max", event(amount=1_000_000.01)),
    ("amount huge", event(amount=1e300)),
    ("amount underflow to zero", _replace("42.5", "1e-400")),
    # --- bad_value -----------------------------------------------------------------------
    ("currency lower", event(currency="eur")),
    ("currency long", event(currency="EURO")),
    ("currency CR (java $)", event(currency="EUR\r")),
    ("currency unicode line sep", event(currency="EUR\u2028")),
    ("channel unknown", event(channel="web")),
    ("country long", event(country="FRA")),
    ("lat too big", event(lat=90.5)),
    ("lon too small", event(lon=-180.01)),
    ("lat without lon", event(lon=_ABSENT)),
    ("lon without lat", event(lat=None)),
    ("merchant too long", event(merchant_id="m" * 65)),
    ("transaction space", event(transaction_id="tx 1")),
    ("card bad format", event(card_id="tok_xyz_4242")),
    ("card upper hex", event(card_id="tok_0123456789ABCDEF_4242")),
    ("amount infinite literal", _replace("42.5", "1e400")),
    ("amount NaN (python only)", _replace("42.5", "NaN")),
    ("lat Infinity (python only)", _replace("48.85", "Infinity")),
    ("category unpaired surrogate", _replace('"grocery"', '"\\ud800"')),
    # --- bad_timestamp -------------------------------------------------------------------
    ("time feb 30", event(event_time="2026-02-30T10:00:00Z")),
    ("time words", event(event_time="yesterday")),
    ("time hour 25", event(event_time="2026-11-22T25:00:00Z")),
    ("time second 60", event(event_time="2026-11-22T10:00:60Z")),
    ("time naive", event(event_time="2026-11-22T10:00:00")),
    ("time year 0", event(event_time="0000-01-01T00:00:00Z")),
    ("time offset 24h", event(event_time="2026-11-22T10:00:00+24:00")),
    ("time month 13", event(event_time="2026-13-01T10:00:00Z")),
    ("time empty", event(event_time="")),
    # --- raw_card_number -----------------------------------------------------------------
    ("card number spaced", event(card_id="4111 1111 1111 1111")),
    ("card number plain", event(card_id="4111111111111111")),
    ("card number dashed", event(card_id="4111-1111-1111-1111")),
    # --- future_event_time ---------------------------------------------------------------
    ("future one micro past max", event(event_time=_at(timedelta(minutes=5, microseconds=1)))),
    ("future a day", event(event_time=_at(timedelta(days=1)))),
    ("future offset", event(event_time="2026-11-22T13:10:00+01:00")),
    ("future non-canonical", event(event_time="2026-11-23 12:00:00Z")),
    # --- first failure wins --------------------------------------------------------------
    ("order missing before bad amount", event(transaction_id=_ABSENT, amount=-1)),
    ("order unknown before missing", event(foo=1, card_id=_ABSENT)),
    ("order schema before unknown", event(schema_version=3, foo=1)),
    ("order field order", event(currency="x", channel="web")),
    ("order bad amount before bad time", event(amount=0, event_time="nope")),
    ("order bad time before pairing", event(event_time="nope", lon=_ABSENT)),
    ("order pairing before future", event(lon=_ABSENT, event_time=_at(timedelta(days=1)))),
    ("order card number in bad json", b'{"card":"4111 1111 1111 1111"'),
]


_POOL: list[Any] = [
    None,
    _ABSENT,
    "",
    "x",
    "EUR",
    "pos",
    "FR",
    "tok_0123456789abcdef_4242",
    "4111 1111 1111 1111",
    "2026-11-22T11:59:30Z",
    "2026-11-22T11:59:30.5+02:00",
    "2026-11-22 11:59:30",
    "2026-11-22T23:59:59.999999-01:30",
    "2099-01-01T00:00:00Z",
    "a" * 70,
    "m-1:2.3_4",
    "é",
    0,
    1,
    -1,
    2,
    0.5,
    -0.5,
    42,
    90,
    90.000001,
    -180,
    180.5,
    999999.99,
    1000000,
    1000000.5,
    1e-9,
    True,
    False,
    [],
    {},
]


def fuzz(count: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """GOOD with one to three fields replaced by values from a pool of edge cases."""
    rng = random.Random(seed)
    names = [*GOOD, "extra"]
    out = []
    for index in range(count):
        changes = {name: rng.choice(_POOL) for name in rng.sample(names, rng.randint(1, 3))}
        out.append((f"fuzz {index}", event(**changes)))
    return out
