import random

import pytest

from fraudstream.events import CARD_ID_PATTERN
from producer.card_tokens import is_luhn_valid, luhn_check_digit, random_card_number, tokenize


def test_luhn_known_numbers() -> None:
    assert is_luhn_valid("4111111111111111")
    assert is_luhn_valid("79927398713")
    assert not is_luhn_valid("4111111111111112")
    assert luhn_check_digit("7992739871") == "3"


def test_generated_numbers_are_luhn_valid() -> None:
    rng = random.Random(1)
    numbers = [random_card_number(rng) for _ in range(200)]
    assert all(len(n) == 16 and n.startswith("4") and is_luhn_valid(n) for n in numbers)


def test_token_shape_stability_and_key_dependence() -> None:
    token = tokenize("4111 1111 1111 1111", b"key-a")
    assert __import__("re").match(CARD_ID_PATTERN, token)
    assert token.endswith("_1111")
    assert "4111111111111111" not in token
    assert tokenize("4111-1111-1111-1111", b"key-a") == token
    assert tokenize("4111111111111111", b"key-b") != token
    assert tokenize("4111111111111112", b"key-a") != token


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="four digits"):
        tokenize("12", b"k")
    with pytest.raises(ValueError, match="key"):
        tokenize("4111111111111111", b"")
