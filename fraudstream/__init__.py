"""Fraudstream: the core of the platform and the layers built on it.

The package's top-level modules are the core (event contract, settings, AWS clients and their
retry policy, table contracts, wire formats) that ``producer``, ``processor`` and ``ml_model``
import; its subpackages are the lake, the services (``rules``, ``live``, ``alerting``), the
local dev stack (``stack``), the demo and the CLI, which sit above them. Imports point down
only: ``pyproject.toml``'s ``[tool.importlinter]`` contracts say which way, ``make lint``
checks them, and ``docs/development.md`` draws them.
"""

__version__ = "0.1.0"
