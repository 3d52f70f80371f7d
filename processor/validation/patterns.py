"""Regular expressions shared by the Spark validator, written for Java's regex engine.

Spark evaluates ``rlike`` with ``java.util.regex`` and ``find()``; the contract's patterns are
Python patterns matched whole (``re.fullmatch``); :func:`java_pattern` makes one mean in Java what
it means in Python, and :data:`FLAT_JSON_OBJECT` recognises a payload that is one complete, flat
JSON object (the only shape Spark decides itself; anything else goes to the Python validator).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# JSON grammar pieces (RFC 8259), possessive so a hostile payload cannot make them backtrack.
_WS = r"[ \t\n\r]*+"
_STRING = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+"'
_NUMBER = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+"
_SCALAR = rf"(?:{_STRING}|{_NUMBER}|true|false|null)"
_MEMBER = rf"{_STRING}{_WS}:{_WS}{_SCALAR}{_WS}"


def _object(member: str) -> str:
    return rf"\A{_WS}\{{{_WS}(?:{member}(?:,{_WS}{member})*+)?+\}}{_WS}\z"


FLAT_JSON_OBJECT = _object(_MEMBER)
"""One JSON object whose values are all scalars, with nothing before or after it."""


def known_keys_object(names: Iterable[str]) -> str:
    """Like :data:`FLAT_JSON_OBJECT`, with every key spelt literally as one of ``names``.

    A payload matching it has no unknown field, so the keys need not be listed separately.
    """
    keys = "|".join(re.escape(name) for name in names)
    return _object(rf'"(?:{keys})"{_WS}:{_WS}{_SCALAR}{_WS}')


CANONICAL_TIMESTAMP = (
    r"\A[1-8][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-7]):[0-5][0-9])\z"
)
"""RFC 3339 in the shape Spark's cast to timestamp parses exactly as Python does: years
1000-8999 (moving to UTC cannot leave the calendar), offsets below 18 h (Java's limit; Python
allows up to 24 h). Other ISO forms Python accepts are left to the Python validator."""

CARD_NUMBER_LIKE = r"(?:\p{Nd}[ -]?){12,18}\p{Nd}"
"""Superset of what :func:`fraudstream.events.redact_card_numbers` masks: a raw payload matching
this is redacted in Python before it is stored."""

RAW_CARD_NUMBER = r"\A[0-9 -]{12,23}\z"
"""A card_id that looks like a card number (``re.fullmatch`` in :func:`validate_event`)."""

_UNSUPPORTED = re.compile(r"\\[dDwWsSbBAZ]|\(\?[aiLmsux]|(?<!\\)\$(?!\Z)")


def java_pattern(pattern: str) -> str:
    """Translate a contract pattern (Python ``re.fullmatch``) into an equivalent Java ``find()``.

    ``^`` becomes ``\\A`` and a final ``$`` becomes ``\\z``: Java's ``$`` would also match
    before a final line terminator, which a whole match must not. Constructs whose meaning
    differs between the engines (``\\d``, ``\\w``, ``\\s``, inline flags, a ``$`` not at the end)
    are refused rather than translated wrongly.
    """
    if _UNSUPPORTED.search(pattern):
        raise ValueError(f"pattern {pattern!r} uses a construct with engine-specific meaning")
    body = pattern[1:] if pattern.startswith("^") else pattern
    if body.endswith("$") and not body.endswith("\\$"):
        body = body[:-1]
    return r"\A(?:" + body + r")\z"
