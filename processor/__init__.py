"""The Spark job: Kinesis source, validation, dedup, per-card state, scoring, decisions, sinks."""
