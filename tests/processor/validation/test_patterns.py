import re

import pytest

from fraudstream.events import EVENT_FIELD_NAMES, EVENT_FIELDS
from processor.validation.patterns import (
    CANONICAL_TIMESTAMP,
    FLAT_JSON_OBJECT,
    java_pattern,
    known_keys_object,
)


def as_python(java: str) -> re.Pattern[str]:
    """The Java pattern in Python's dialect (``\\z`` is spelt ``\\Z`` there)."""
    return re.compile(java.replace(r"\z", r"\Z"))


def test_java_pattern_keeps_python_fullmatch_semantics() -> None:
    translated = java_pattern(r"^[A-Z]{3}$")
    assert translated == r"\A(?:[A-Z]{3})\z"
    python = as_python(translated)
    for text in ("EUR", "EUR\n", "EURO", "EUR\r", "eur", "EUR\n\n"):
        assert bool(python.search(text)) == bool(re.fullmatch(r"^[A-Z]{3}$", text)), text
    assert not python.search("EUR\n")  # a trailing newline is not a currency code


def test_java_pattern_without_anchors_matches_the_whole_value() -> None:
    assert java_pattern("[a-z]+") == r"\A(?:[a-z]+)\z"


@pytest.mark.parametrize("pattern", [r"^\d{4}$", r"^\w+$", r"(?i)^abc$", r"^a$|^b$"])
def test_java_pattern_refuses_engine_specific_constructs(pattern: str) -> None:
    with pytest.raises(ValueError, match="engine-specific"):
        java_pattern(pattern)


def test_every_contract_pattern_translates() -> None:
    for spec in EVENT_FIELDS:
        if spec.pattern is not None:
            assert java_pattern(spec.pattern).startswith(r"\A")


@pytest.mark.parametrize(
    ("text", "flat", "known"),
    [
        ('{"amount":1}', True, True),
        (' {\n "amount" : -1.5e3 , "channel":null}\t', True, True),
        ("{}", True, True),
        ('{"other":true}', True, False),
        ('{"\\u0061mount":1}', True, False),
        ('{"amount":1} x', False, False),
        ('{"amount":1}{"amount":2}', False, False),
        ('{"amount":[1]}', False, False),
        ('{"amount":{"a":1}}', False, False),
        ('{"amount":NaN}', False, False),
        ('{"amount":01}', False, False),
        ('{"amount":"a\x01"}', False, False),
        ('{"amount":1,}', False, False),
        ("[1]", False, False),
    ],
)
def test_flat_object_shapes(text: str, flat: bool, known: bool) -> None:
    assert bool(as_python(FLAT_JSON_OBJECT).search(text)) is flat
    assert bool(as_python(known_keys_object(EVENT_FIELD_NAMES)).search(text)) is known


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-22T11:59:30Z", True),
        ("2026-11-22T11:59:30.123456+05:30", True),
        ("2026-11-22T11:59:30.1234567Z", False),
        ("2026-11-22 11:59:30Z", False),
        ("2026-11-22T11:59:30+18:00", False),
        ("0999-11-22T11:59:30Z", False),
        ("2026-11-22T11:59:30z", False),
    ],
)
def test_canonical_timestamps(text: str, canonical: bool) -> None:
    assert bool(as_python(CANONICAL_TIMESTAMP).search(text)) is canonical
