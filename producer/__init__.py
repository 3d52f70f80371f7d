"""The producer: a seeded generator of card transactions with labelled fraud scenarios, a
Kinesis writer that holds a target rate, and replay of historical datasets.

Card numbers exist only inside this package; events carry the token from
:func:`producer.card_tokens.tokenize`.
"""
