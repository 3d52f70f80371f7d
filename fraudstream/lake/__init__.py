"""The local lake query tool behind ``fraudstream lake``.

Athena's view of the lake, on a laptop: the Parquet objects under each table's prefix, read
through pyarrow's S3 filesystem with the schemas of :mod:`fraudstream.lake_tables`, become
DuckDB views named like the Glue tables, so the SQL Athena runs (including the named queries
shipped in ``queries/``, which Terraform also deploys) runs here unchanged.

Modules: :mod:`~fraudstream.lake.named` (the shipped queries), :mod:`~fraudstream.lake.storage`
(S3 listing and Arrow datasets: the only I/O), :mod:`~fraudstream.lake.query` (DuckDB),
:mod:`~fraudstream.lake.render` (table, CSV and JSON output).
"""
