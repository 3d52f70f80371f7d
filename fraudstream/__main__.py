"""``python -m fraudstream`` is the ``fraudstream`` command."""

from fraudstream.cli import main

main()
