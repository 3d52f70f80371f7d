"""Validation as Spark expressions: raw Kinesis rows in, typed events and quarantine rows out.

Every check is derived from :data:`fraudstream.events.EVENT_FIELDS` and runs in the JVM: the
payload is parsed once into a struct of VARIANT fields, each field's JSON type is read with
``schema_of_variant`` and its constraints become column expressions, combined in the order
:func:`fraudstream.events.validate_event` applies them so the first failure names the same
reason. A record goes to the Python validator (one vectorised Arrow UDF call per batch,
:mod:`processor.validation.fallback`) only when SQL cannot decide it exactly as Python would:

* the payload is not one flat JSON object with nothing after it (Spark's JSON parser ignores
  trailing text and rejects ``NaN``, which Python accepts), or is not valid UTF-8;
* ``event_time`` is a string in an ISO form other than canonical RFC 3339;
* a ``long`` field other than ``schema_version`` holds a decimal or floating-point number;
* the record is rejected and its raw text holds something shaped like a card number, which is
  masked before it is stored.

Valid records, the common case, never leave the JVM: the UDF sees a null in their place.
Spark's Python workers must run an interpreter with this package and pyarrow installed
(``PYSPARK_PYTHON``), and the session time zone should be UTC.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from fraudstream.events import (
    EVENT_FIELD_NAMES,
    EVENT_FIELDS,
    MAX_FUTURE,
    SUPPORTED_SCHEMA_VERSIONS,
    FieldSpec,
    spark_schema,
)
from processor.validation import fallback
from processor.validation.patterns import (
    CANONICAL_TIMESTAMP,
    CARD_NUMBER_LIKE,
    FLAT_JSON_OBJECT,
    RAW_CARD_NUMBER,
    java_pattern,
    known_keys_object,
)

RAW_COLUMNS = (
    "data",
    "partition_key",
    "shard_id",
    "sequence_number",
    "approximate_arrival_timestamp",
    "stream_name",
)
"""The Kinesis source's columns; validation reads data, shard_id, sequence_number and
approximate_arrival_timestamp."""
SOURCE_COLUMNS = ("shard_id", "sequence_number", "arrival_time")
VALID_COLUMNS = (*EVENT_FIELD_NAMES, *SOURCE_COLUMNS)
QUARANTINE_COLUMNS = ("raw", "reason", "detail", *SOURCE_COLUMNS)
VALIDATED_COLUMNS = (*VALID_COLUMNS, "raw", "reason", "detail", "validated_by")

_INTEGRAL = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_SQL_TYPES = {"string": "string", "double": "double", "long": "bigint", "timestamp": "string"}


def _verdict_type() -> StructType:
    return StructType(
        [
            StructField("reason", StringType()),
            StructField("detail", StringType()),
            StructField("raw", StringType()),
            *(StructField(f.name, f.dataType, True) for f in spark_schema().fields),
        ]
    )


def _python_verdicts(max_future: timedelta) -> Any:
    """The Arrow UDF that runs the contract's Python validator on the records SQL defers."""
    seconds = max_future.total_seconds()

    def python_verdicts(payloads: pa.Array, now: pa.Array) -> pa.Array:
        return fallback.verdicts(payloads, now, seconds)

    # The type hints (pa.Array -> pa.Array) tell Spark this is a scalar Arrow UDF.
    return F.arrow_udf(python_verdicts, _verdict_type())  # type: ignore[call-overload]


class _Checks:
    """The failures SQL can report, numbered; rows carry the number, not the text.

    Keeping each row's verdict an integer until the last projection keeps the expression tree
    small, which matters because a streaming query re-plans it on every micro-batch.
    """

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.details: list[str] = []
        self.dynamic: dict[int, Column] = {}

    def code(self, reason: str, detail: str | Column) -> int:
        self.reasons.append(reason)
        self.details.append(detail if isinstance(detail, str) else "")
        number = len(self.reasons)
        if isinstance(detail, Column):
            self.dynamic[number] = detail
        return number

    def reason(self, code: Column) -> Column:
        # Guarded: element_at with a null index over a literal array can return the last item.
        return F.when(code.isNotNull(), F.element_at(F.array(*map(F.lit, self.reasons)), code))

    def detail(self, code: Column) -> Column:
        fixed = F.when(code.isNotNull(), F.element_at(F.array(*map(F.lit, self.details)), code))
        expr: Column | None = None
        for number, text in self.dynamic.items():
            expr = F.when(code == number, text) if expr is None else expr.when(code == number, text)
        return fixed if expr is None else expr.otherwise(fixed)


def _col(prefix: str, name: str) -> Column:
    return F.col(f"_{prefix}_{name}")


def _is_numeric(json_type: Column) -> Column:
    return json_type.isin(*_INTEGRAL, "FLOAT", "DOUBLE") | F.startswith(json_type, F.lit("DECIMAL"))


def _field_check(spec: FieldSpec, checks: _Checks) -> Column:
    """One field's first failure code (null when fine), in ``_check_value``'s order."""
    name = spec.name
    present, json_type, value = _col("p", name), _col("t", name), _col("x", name)
    branches: list[tuple[Column, int | None]] = []
    if spec.required:
        branches.append((~present, checks.code("missing_field", f"{name} is required")))
    else:
        branches.append((~present, None))
    if spec.kind == "string":
        branches.append(
            (json_type != "STRING", checks.code("wrong_type", f"{name} must be a string"))
        )
        if spec.max_length is not None:
            too_long = checks.code("bad_value", f"{name} is longer than {spec.max_length}")
            branches.append((F.char_length(value) > spec.max_length, too_long))
        if spec.pattern is not None:
            mismatch = ~value.rlike(java_pattern(spec.pattern))
            if name == "card_id":
                looks_raw = checks.code("raw_card_number", "card_id looks like a card number")
                branches.append((mismatch & value.rlike(RAW_CARD_NUMBER), looks_raw))
            branches.append((mismatch, checks.code("bad_value", f"{name} has an invalid format")))
        if spec.choices is not None:
            listed = ", ".join(spec.choices)
            branches.append(
                (
                    ~value.isin(*spec.choices),
                    checks.code("bad_value", f"{name} must be one of {listed}"),
                )
            )
    elif spec.kind == "timestamp":
        not_text = checks.code("wrong_type", f"{name} must be an RFC 3339 string")
        branches.append((json_type != "STRING", not_text))
        invalid = checks.code("bad_timestamp", f"{name}: not a valid date and time")
        branches.append((_col("ts", name).isNull(), invalid))
    else:
        branches.append(
            (~_is_numeric(json_type), checks.code("wrong_type", f"{name} must be a number"))
        )
        if spec.kind == "double":
            infinite = F.isnan(value) | (F.abs(value) == float("inf"))
            branches.append((infinite, checks.code("bad_value", f"{name} must be finite")))
            out_of_range = F.lit(False)
            if spec.minimum is not None:
                out_of_range = out_of_range | (
                    value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum
                )
            if spec.maximum is not None:
                out_of_range = out_of_range | (value > spec.maximum)
            detail = F.concat(
                F.lit(f"{name}="), value.cast("string"), F.lit(" is outside its allowed range")
            )
            reason = "bad_amount" if name == "amount" else "bad_value"
            branches.append((out_of_range, checks.code(reason, detail)))
    expr: Column | None = None
    for condition, code in branches:
        result = F.lit(code) if code is not None else F.lit(None).cast("int")
        expr = F.when(condition, result) if expr is None else expr.when(condition, result)
    assert expr is not None
    return expr


def _deferred(spec: FieldSpec) -> Column | None:
    """True when this field's value is one SQL cannot judge exactly as Python does."""
    present, json_type = _col("p", spec.name), _col("t", spec.name)
    if spec.kind == "timestamp":
        return present & (json_type == "STRING") & ~_col("c", spec.name)
    if spec.kind == "long" and spec.name != "schema_version":
        return present & _is_numeric(json_type) & ~json_type.isin(*_INTEGRAL)
    return None


def validate(
    raw: DataFrame, *, now: Column | None = None, max_future: timedelta = MAX_FUTURE
) -> DataFrame:
    """Check every raw Kinesis row against the event contract, keeping every row.

    ``raw`` has the Kinesis source's columns (:data:`RAW_COLUMNS`). The result has
    :data:`VALIDATED_COLUMNS`: for a valid row the contract's fields typed (``event_time`` a
    UTC timestamp) and ``reason`` null; for a rejected row ``reason``/``detail`` as
    :func:`fraudstream.events.parse_event` would raise them and ``raw`` the payload with card
    numbers masked. ``now`` bounds how far in the future ``event_time`` may be; by default
    each record's own Kinesis arrival time, so the check judges the producer's clock at the
    moment it sent the record, however late the processor reads it, and a replay decides the
    same. (Not ``current_timestamp()``: Spark writes that into each micro-batch's generated
    code as a constant, so this whole projection was compiled afresh, and re-optimised by the
    JIT, on every micro-batch.) Use :func:`valid_events` and :func:`quarantine_rows` to project
    the two outcomes.
    """
    now_column = F.col("approximate_arrival_timestamp") if now is None else now
    text = F.col("data").cast("string")
    base = raw.select(
        F.col("data"),
        F.col("shard_id").cast("string").alias("shard_id"),
        F.col("sequence_number").cast("string").alias("sequence_number"),
        F.col("approximate_arrival_timestamp").cast("timestamp").alias("arrival_time"),
        now_column.cast("timestamp").alias("_now"),
        F.when(F.is_valid_utf8(text), text).alias("_text"),
    )
    # The usual payload: a flat object spelling only contract keys (one regex, no key list).
    # Otherwise a flat object with other or escaped keys: list them. Otherwise: Python.
    known = F.col("_text").rlike(known_keys_object(EVENT_FIELD_NAMES))
    flat = F.col("_text").rlike(FLAT_JSON_OBJECT)
    as_struct = "struct<" + ", ".join(f"`{name}`: variant" for name in EVENT_FIELD_NAMES) + ">"
    shape = base.select("*", F.when(known, "known").when(flat, "flat").alias("_shape"))
    parsed = shape.select(
        "*",
        F.when(
            F.col("_shape").isNotNull(),
            F.try_variant_get(F.try_parse_json("_text"), "$", as_struct),
        ).alias("_obj"),
        F.when(F.col("_shape") == "flat", F.json_object_keys("_text"))
        .otherwise(F.array().cast("array<string>"))
        .alias("_keys"),
    )
    # One column per field and aspect: _v the VARIANT, _p present (not absent, not null),
    # _t its JSON type, _x its value as the field's SQL type, _c canonical, _ts parsed time.
    values = parsed.select(
        "*", *(F.col("_obj").getField(s.name).alias(f"_v_{s.name}") for s in EVENT_FIELDS)
    )
    values = values.select(
        "*",
        *(
            (_col("v", s.name).isNotNull() & ~F.is_variant_null(_col("v", s.name))).alias(
                f"_p_{s.name}"
            )
            for s in EVENT_FIELDS
        ),
        *(F.schema_of_variant(_col("v", s.name)).alias(f"_t_{s.name}") for s in EVENT_FIELDS),
        *(
            F.try_variant_get(_col("v", s.name), "$", _SQL_TYPES[s.kind]).alias(f"_x_{s.name}")
            for s in EVENT_FIELDS
        ),
        F.array_sort(F.array_except("_keys", F.array(*map(F.lit, EVENT_FIELD_NAMES)))).alias(
            "_unknown"
        ),
        F.col("_obj").isNotNull().alias("_parsed"),
    ).drop("_obj", "_keys", *(f"_v_{s.name}" for s in EVENT_FIELDS if s.name != "schema_version"))
    times = [s.name for s in EVENT_FIELDS if s.kind == "timestamp"]
    values = values.select(
        "*",
        *(
            ((_col("t", n) == "STRING") & _col("x", n).rlike(CANONICAL_TIMESTAMP)).alias(f"_c_{n}")
            for n in times
        ),
    ).select(
        "*",
        *(
            F.when(_col("c", n), _col("x", n).try_cast("timestamp")).alias(f"_ts_{n}")
            for n in times
        ),
    )

    checks = _Checks()
    version_present, version_type = _col("p", "schema_version"), _col("t", "schema_version")
    unsupported = ~version_type.isin(*_INTEGRAL) | ~_col("x", "schema_version").isin(
        *sorted(SUPPORTED_SCHEMA_VERSIONS)
    )
    version_text = F.to_json(_col("v", "schema_version"))
    leading = (
        F.when(~version_present, checks.code("missing_field", "schema_version is required"))
        .when(
            unsupported,
            checks.code(
                "unknown_schema_version",
                F.concat(F.lit("schema_version "), version_text, F.lit(" is not supported")),
            ),
        )
        .when(
            F.size("_unknown") > 0,
            checks.code(
                "unknown_field",
                F.concat(F.lit("unexpected field(s): "), F.array_join("_unknown", ", ")),
            ),
        )
    )
    per_field = [_field_check(spec, checks) for spec in EVENT_FIELDS]
    unpaired = checks.code("bad_value", "lat and lon must be given together")
    future = checks.code("future_event_time", "event_time is too far in the future")
    limit = F.col("_now") + F.expr(_interval(max_future))
    trailing = F.when(_col("p", "lat") != _col("p", "lon"), unpaired).when(
        F.col("_ts_event_time") > limit, future
    )
    deferred = [d for d in map(_deferred, EVENT_FIELDS) if d is not None]
    parsed_ok = F.col("_parsed")
    python = ~parsed_ok
    for condition in deferred:
        python = python | condition
    coded = values.select(
        "*",
        F.when(parsed_ok, F.coalesce(leading, *per_field, trailing)).alias("_code"),
        python.alias("_python"),
    )
    # Only what the rest needs goes past the Python UDF, which buffers every column it passes.
    code = F.col("_code")
    narrow = coded.select(
        "data",
        *SOURCE_COLUMNS,
        "_now",
        "_text",
        "_python",
        *(
            (_col("ts", s.name) if s.kind == "timestamp" else _col("x", s.name)).alias(
                f"_sql_{s.name}"
            )
            for s in EVENT_FIELDS
        ),
        checks.reason(code).alias("_sql_reason"),
        checks.detail(code).alias("_sql_detail"),
    )
    by_python = F.col("_python")
    needs_python = by_python | (
        F.col("_sql_reason").isNotNull() & F.col("_text").rlike(CARD_NUMBER_LIKE)
    )
    verdicts = _python_verdicts(max_future)
    judged = narrow.select(
        "*", verdicts(F.when(needs_python, F.col("data")), F.col("_now")).alias("_py")
    ).select(
        "*",
        F.when(by_python, F.col("_py.reason")).otherwise(F.col("_sql_reason")).alias("reason"),
    )
    valid = F.col("reason").isNull()
    event_columns = [
        F.when(
            valid,
            F.when(by_python, F.col(f"_py.{s.name}")).otherwise(F.col(f"_sql_{s.name}")),
        ).alias(s.name)
        for s in EVENT_FIELDS
    ]
    return judged.select(
        *event_columns,
        *SOURCE_COLUMNS,
        F.when(~valid, F.coalesce(F.col("_py.raw"), F.col("_text"))).alias("raw"),
        "reason",
        F.when(by_python, F.col("_py.detail")).otherwise(F.col("_sql_detail")).alias("detail"),
        F.when(by_python, F.lit("python")).otherwise(F.lit("sql")).alias("validated_by"),
    )


def _interval(delta: timedelta) -> str:
    micros = round(delta.total_seconds() * 1_000_000)
    return f"make_dt_interval(0, 0, 0, {micros / 1_000_000:.6f})"


def valid_events(validated: DataFrame) -> DataFrame:
    """The valid rows of :func:`validate`: the contract's columns plus the source columns."""
    return validated.where(F.col("reason").isNull()).select(*VALID_COLUMNS)


def quarantine_rows(validated: DataFrame) -> DataFrame:
    """The rejected rows of :func:`validate`, shaped for the quarantine lake table."""
    return validated.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)


def split(
    raw: DataFrame, *, now: Column | None = None, max_future: timedelta = MAX_FUTURE
) -> tuple[DataFrame, DataFrame]:
    """(valid events, quarantine rows) of ``raw``: :func:`validate` projected both ways.

    Both share one plan; on a streaming source each branch used as its own query reads the
    source again, so a job that wants one read validates once and splits inside foreachBatch.
    """
    validated = validate(raw, now=now, max_future=max_future)
    return valid_events(validated), quarantine_rows(validated)
