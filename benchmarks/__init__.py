"""Reproducible benchmarks: ``make bench`` runs :mod:`benchmarks.run`.

Each benchmark is a module here with a ``main()`` that measures on the local stack and writes
``benchmarks/results/<name>.json``; ``docs/benchmarks.md`` summarises the results with the
command that reproduces each table. Tests never assert on timings.
"""
