"""Card numbers in, tokens out: the only place a card number is handled.

A token is ``tok_<first 16 hex of HMAC-SHA256(key, number)>_<last four digits>``: stable for a
card under one key (so per-card state works), irreversible without the key, and the last four
digits let an analyst talk to a card holder. The key comes from settings
(``FRAUDSTREAM_CARD_TOKEN_KEY``), never from code.
"""

from __future__ import annotations

import hashlib
import hmac
import random


def luhn_check_digit(partial: str) -> str:
    """The Luhn check digit that makes ``partial + digit`` a valid card number."""
    total = 0
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:  # these positions are doubled once the check digit is appended
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_luhn_valid(number: str) -> bool:
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def random_card_number(rng: random.Random, prefix: str = "4") -> str:
    """A Luhn-valid 16-digit number for simulation (test ranges; never a real card)."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(15 - len(prefix)))
    return body + luhn_check_digit(body)


def tokenize(card_number: str, key: bytes) -> str:
    """Token for a card number (digits, spaces or dashes allowed)."""
    digits = "".join(ch for ch in card_number if ch.isdigit())
    if len(digits) < 4:
        raise ValueError("a card number has at least four digits")
    if not key:
        raise ValueError("the tokenisation key must not be empty")
    digest = hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()[:16]
    return f"tok_{digest}_{digits[-4:]}"
