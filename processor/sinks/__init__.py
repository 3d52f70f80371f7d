"""The processor's sinks: the S3 Parquet lake (:mod:`.lake`) and the DynamoDB alerts table
(:mod:`.alerts`). Both are idempotent, so a replayed micro-batch leaves one copy of each row."""
