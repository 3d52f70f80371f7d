"""The named queries shipped as package data in ``fraudstream/lake/queries/*.sql``.

Terraform turns the same files into Athena named queries (``modules/lake``, ``queries_dir``),
so what ``fraudstream lake query --named`` runs locally is exactly what analysts run in Athena.
They live inside the package, not under ``infrastructure/``, so that an installed fraudstream
(wheel or editable) finds them through :mod:`importlib.resources`; see
``docs/adr/0006-named-queries-in-the-package.md``. Each file's first line is ``-- <description>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from fraudstream.lake.errors import UnknownNamedQueryError

_PACKAGE = "fraudstream.lake"
_FOLDER = "queries"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str


def parse(name: str, text: str) -> NamedQuery:
    """A query from its file name (no ``.sql``) and text; its first ``-- `` line describes it."""
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    description = first[3:].strip() if first.startswith("-- ") else ""
    return NamedQuery(name=name, description=description, sql=text)


def named_queries() -> dict[str, NamedQuery]:
    """Every shipped query by name, sorted by name."""
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    found = {}
    for entry in folder.iterdir():
        if entry.is_file() and entry.name.endswith(".sql"):
            name = entry.name.removesuffix(".sql")
            found[name] = parse(name, entry.read_text(encoding="utf-8"))
    return dict(sorted(found.items()))


def named_query(name: str) -> NamedQuery:
    """One shipped query; :class:`UnknownNamedQueryError` lists the ones that exist."""
    queries = named_queries()
    if name not in queries:
        known = ", ".join(queries) or "none"
        raise UnknownNamedQueryError(f"no named query {name!r}; shipped: {known}")
    return queries[name]
