"""``fraudstream lake`` end to end against the emulator: Delta tables written by the processor's
own lake writer, read back through their logs, answers checked against the rows."""

from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from fraudstream import aws, lake_tables
from fraudstream.cli import cli
from fraudstream.lake.tables import open_table
from fraudstream.settings import Settings
from processor.sinks.lake import LakeWriter
from tests.conftest import free_port

pytestmark = pytest.mark.integration

DECISIONS = ["approve", "review", "approve", "block", "approve", "approve"]


def transactions(start: datetime) -> list[dict[str, Any]]:
    """14 decided transactions ten minutes apart (so over three hours), two cards, 3 merchants."""
    rows = []
    for i in range(14):
        decision = DECISIONS[i % len(DECISIONS)]
        rows.append(
            {
                "transaction_id": f"tx-{i:02d}",
                "card_id": "tok_b" if i % 3 == 0 else "tok_a",
                "merchant_id": f"m-{i % 3}",
                "amount": 10.0 + 7.25 * i,
                "currency": "EUR",
                "event_time": start + timedelta(minutes=10 * i),
                "merchant_category": "grocery",
                "channel": "pos",
                "country": "FR",
                "lat": 48.85,
                "lon": 2.35,
                "schema_version": 1,
                "features": {"card_count_10m": float(i % 4)},
                "score": {"approve": 0.05, "review": 0.6, "block": 0.97}[decision],
                "model_version": "xgb-test",
                "scored_by": "endpoint",
                "decision": decision,
                "reasons": [] if decision == "approve" else ["high_model_score"],
                "shard_id": "shardId-000000000000",
                "sequence_number": str(1000 + i),
                "arrival_time": start + timedelta(minutes=10 * i, seconds=1),
                "processed_at": start + timedelta(minutes=10 * i, seconds=2),
            }
        )
    return rows


def labels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Labels for the flagged transactions and every fourth other one; blocks are fraud."""
    return [
        {
            "transaction_id": row["transaction_id"],
            "card_id": row["card_id"],
            "merchant_id": row["merchant_id"],
            "is_fraud": row["decision"] == "block",
            "scenario": "card_testing" if row["decision"] == "block" else "genuine",
            "event_time": row["event_time"],
            "label_time": row["event_time"] + timedelta(minutes=30),
        }
        for i, row in enumerate(rows)
        if row["decision"] != "approve" or i % 4 == 0
    ]


def arrow(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = lake_tables.arrow_schema(name)
    schema = schema.remove(schema.get_field_index("batch_id"))
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture
def lake(fresh_sinks: Settings) -> tuple[Settings, list[dict[str, Any]], list[dict[str, Any]]]:
    """A lake with transactions and labels in two micro-batches, written as the job writes."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    rows = transactions(start)
    truth = labels(rows)
    with LakeWriter(fresh_sinks, query="test") as writer:
        writer.write("transactions", 1, arrow("transactions", rows[:8]))
        writer.write_tables(
            2, {"transactions": arrow("transactions", rows[8:]), "labels": arrow("labels", truth)}
        )
    return fresh_sinks, rows, truth


def env(settings: Settings) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": settings.endpoint_url or "", "FRAUDSTREAM_BUCKET": settings.bucket}


def lake_cli(settings: Settings, *args: str, **extra: str) -> Result:
    return CliRunner().invoke(cli, ["lake", *args], env={**env(settings), **extra})


def answer(settings: Settings, *args: str) -> list[dict[str, Any]]:
    result = lake_cli(settings, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def partition(moment: datetime) -> tuple[str, str]:
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H")


def test_fraud_rate_by_hour_matches_the_rows_written(lake: Any) -> None:
    settings, rows, truth = lake
    fraud = {label["transaction_id"]: label["is_fraud"] for label in truth}
    hours: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        hours[partition(row["event_time"])].append(row)
    expected = []
    for (dt, hour), group in sorted(hours.items()):
        flagged = [r for r in group if r["decision"] != "approve"]
        labelled = [r for r in group if r["transaction_id"] in fraud]
        confirmed = [r for r in labelled if fraud[r["transaction_id"]]]
        expected.append(
            {
                "dt": dt,
                "hour": hour,
                "transactions": len(group),
                "reviewed": sum(r["decision"] == "review" for r in group),
                "blocked": sum(r["decision"] == "block" for r in group),
                "flagged_rate": pytest.approx(len(flagged) / len(group)),
                "labelled": len(labelled),
                "confirmed_fraud": len(confirmed),
                "fraud_rate": pytest.approx(len(confirmed) / len(labelled)) if labelled else None,
            }
        )
    assert len(expected) == 3
    assert answer(settings, "query", "--named", "fraud_rate_by_hour") == expected


def test_top_merchants_by_alerts_matches_the_rows_written(lake: Any) -> None:
    settings, rows, _ = lake
    merchants: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        merchants[row["merchant_id"]].append(row)
    expected = []
    for merchant, group in merchants.items():
        alerts = [r for r in group if r["decision"] != "approve"]
        if alerts:
            expected.append(
                {
                    "merchant_id": merchant,
                    "transactions": len(group),
                    "alerts": len(alerts),
                    "blocked": sum(r["decision"] == "block" for r in alerts),
                    "alert_rate": pytest.approx(len(alerts) / len(group)),
                    "alerted_amount": pytest.approx(round(sum(r["amount"] for r in alerts), 2)),
                }
            )
    expected.sort(key=lambda m: (-m["alerts"], -m["alerted_amount"].expected))
    assert answer(settings, "query", "--named", "top_merchants_by_alerts") == expected


def test_card_timeline_takes_the_card_as_a_parameter(lake: Any) -> None:
    settings, rows, _ = lake
    timeline = answer(settings, "query", "--named", "card_timeline", "--param", "tok_b")
    mine = sorted((r for r in rows if r["card_id"] == "tok_b"), key=lambda r: r["event_time"])
    assert [t["transaction_id"] for t in timeline] == [r["transaction_id"] for r in mine]
    assert [t["decision"] for t in timeline] == [r["decision"] for r in mine]
    assert [t["reasons"] for t in timeline] == [r["reasons"] for r in mine]
    first = mine[0]["event_time"].replace(tzinfo=None).isoformat()
    assert timeline[0]["event_time"] == first  # UTC wall time, as Athena shows it


def test_ad_hoc_sql_tables_and_formats(lake: Any) -> None:
    settings, rows, truth = lake
    sql = (
        "SELECT decision, count(*) AS n, max(features['card_count_10m']) AS top_count "
        "FROM fraudstream.transactions GROUP BY decision ORDER BY decision"
    )
    result = lake_cli(settings, "query", sql, "--format", "csv")
    assert result.exit_code == 0, result.output
    counts = {d: sum(r["decision"] == d for r in rows) for d in ("approve", "block", "review")}
    assert result.stdout.splitlines() == [
        "decision,n,top_count",
        *(f"{d},{n},3.0" for d, n in counts.items()),
    ]
    assert "3 rows in" in result.stderr and "transactions v2 (" in result.stderr
    assert "labels" not in result.stderr  # only the tables the statement names are read

    table = lake_cli(settings, "query", "SELECT count(*) AS n FROM labels")
    assert table.exit_code == 0 and table.stdout.splitlines() == [
        "n",
        "-" * max(1, len(str(len(truth)))),
        str(len(truth)),
        "(1 row)",
    ]

    stats = {t["table"]: t for t in answer(settings, "tables")}
    assert list(stats) == list(lake_tables.table_names())
    hours = sorted({partition(r["event_time"]) for r in rows})
    assert stats["transactions"]["rows"] == len(rows)
    # one file per hour per batch: batch 1 covers the first 8 rows, batch 2 the rest
    batches = [{partition(r["event_time"]) for r in part} for part in (rows[:8], rows[8:])]
    assert stats["transactions"]["files"] == sum(len(b) for b in batches)
    assert stats["transactions"]["version"] == 2  # creation, then one commit per batch
    assert stats["transactions"]["partitions"] == len(hours)
    assert stats["transactions"]["first"] == "/".join(hours[0])
    assert stats["labels"]["rows"] == len(truth)
    assert stats["aggregates"] == {
        "table": "aggregates",
        "version": None,  # nothing written: no table yet
        "files": 0,
        "rows": 0,
        "bytes": 0,
        "partitions": 0,
        "first": None,
        "last": None,
    }


def test_an_empty_lake_answers_with_no_rows(fresh_sinks: Settings) -> None:
    stats = answer(fresh_sinks, "tables")
    assert [(t["table"], t["files"], t["rows"]) for t in stats] == [
        (name, 0, 0) for name in lake_tables.table_names()
    ]
    assert answer(fresh_sinks, "query", "SELECT count(*) AS n FROM transactions") == [{"n": 0}]
    assert answer(fresh_sinks, "query", "--named", "fraud_rate_by_hour") == []
    compact = lake_cli(fresh_sinks, "compact")
    assert compact.exit_code == 0 and "transactions: no table yet" in compact.output
    upgrade = lake_cli(fresh_sinks, "upgrade")
    assert upgrade.exit_code == 0 and "labels: no objects" in upgrade.output
    history = lake_cli(fresh_sinks, "history", "labels")
    assert history.exit_code == 0 and "(0 rows)" in history.output


def test_errors_are_one_line_and_exit_1(fresh_sinks: Settings) -> None:
    unknown = lake_cli(fresh_sinks, "query", "SELECT * FROM transactionz")
    assert unknown.exit_code == 1
    assert "Error: unknown table transactionz: the lake's tables are" in unknown.output
    bad = lake_cli(fresh_sinks, "query", "SELECT FROM WHERE")
    assert bad.exit_code == 1 and "Error: SQL error: Parser Error: syntax error" in bad.output
    params = lake_cli(fresh_sinks, "query", "--named", "card_timeline")
    assert params.exit_code == 1 and "takes 1 parameter" in params.output
    named = lake_cli(fresh_sinks, "query", "--named", "nope")
    assert named.exit_code == 1 and "no named query 'nope'" in named.output
    both = lake_cli(fresh_sinks, "query", "SELECT 1", "--named", "card_timeline")
    assert both.exit_code == 2 and "give either SQL or --named NAME" in both.output
    missing = lake_cli(fresh_sinks, "tables", FRAUDSTREAM_BUCKET="no-such-lake")
    assert missing.exit_code == 1
    assert "lake bucket 'no-such-lake' not found at http://127.0.0.1:" in missing.output
    for result in (unknown, bad, params, named, missing):
        assert "Traceback" not in result.output


def test_s3_specific_endpoint_wins_and_files_outside_the_log_are_not_read(lake: Any) -> None:
    settings, rows, _ = lake
    s3 = aws.client("s3", settings)
    day, hour = partition(rows[0]["event_time"])
    # A file no commit lists (an attempt that died before committing): not part of the table.
    s3.put_object(
        Bucket=settings.bucket, Key=f"transactions/dt={day}/hour={hour}/x.parquet", Body=b"junk"
    )
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: only S3 may be used
    result = lake_cli(
        settings,
        "query",
        "SELECT count(*) AS n FROM transactions",
        "--format",
        "json",
        AWS_ENDPOINT_URL=dead,
        AWS_ENDPOINT_URL_S3=settings.endpoint_url or "",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": len(rows)}]


def test_a_corrupt_file_is_a_read_error_naming_it(lake: Any) -> None:
    settings, _, _ = lake
    listing = lake_cli(settings, "tables")
    assert listing.exit_code == 0
    table = open_table(settings, "transactions")
    assert table is not None
    path = str(pa.table(table.get_add_actions()).column("path")[0])
    key = f"transactions/{path}"
    aws.client("s3", settings).put_object(Bucket=settings.bucket, Key=key, Body=b"garbage")
    result = lake_cli(settings, "query", "SELECT count(*) FROM transactions WHERE amount > 0")
    assert result.exit_code == 1
    assert "Error: cannot read the lake:" in result.output and path in result.output


def test_as_of_reads_the_tables_as_they_were_and_history_lists_the_commits(
    fresh_sinks: Settings,
) -> None:
    rows = transactions(datetime.now(UTC) - timedelta(hours=3))
    with LakeWriter(fresh_sinks, query="q") as writer:
        writer.write("transactions", 1, arrow("transactions", rows[:5]))
        # Versions are found by their log file's time, which S3 keeps to the second.
        time.sleep(1.1)
        between = datetime.now(UTC)
        time.sleep(1.1)
        writer.write("transactions", 2, arrow("transactions", rows[5:]))
    count = "SELECT count(*) AS n FROM transactions"
    assert answer(fresh_sinks, "query", count) == [{"n": len(rows)}]
    past = answer(fresh_sinks, "query", count, "--as-of", between.isoformat())
    assert past == [{"n": 5}]
    naive = between.replace(tzinfo=None).isoformat(sep=" ")  # no zone: UTC
    assert answer(fresh_sinks, "query", count, "--as-of", naive) == [{"n": 5}]
    # Before the table existed: its first version, the empty table.
    assert answer(fresh_sinks, "query", count, "--as-of", "2020-01-01T00:00") == [{"n": 0}]
    bad = lake_cli(fresh_sinks, "query", count, "--as-of", "yesterday")
    assert bad.exit_code == 2 and "is not a time" in bad.output

    history = answer(fresh_sinks, "history", "transactions")
    assert [(h["version"], h["query"], h["batch"]) for h in history] == [
        (2, "q", "2"),
        (1, "q", "1"),
        (0, None, None),
    ]
    assert history[0]["operation"] == "STREAMING UPDATE"


def test_compact_merges_closed_hours_and_upgrade_converts_the_old_layout(
    fresh_sinks: Settings,
) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    rows = transactions(start)  # 14 rows over three hours, all closed by now
    with LakeWriter(fresh_sinks, query="q") as writer:
        for batch, row in enumerate(rows):
            writer.write("transactions", batch, arrow("transactions", [row]))
    result = lake_cli(fresh_sinks, "compact", "--table", "transactions")
    assert result.exit_code == 0, result.output
    assert "transactions: 3 closed hour(s) compacted, 14 files -> 3" in result.output
    stats = {t["table"]: t for t in answer(fresh_sinks, "tables")}
    assert (stats["transactions"]["files"], stats["transactions"]["rows"]) == (3, 14)
    assert lake_cli(fresh_sinks, "compact").exit_code == 0  # again: nothing left to merge

    # A table in the old layout: plain objects, no log. The writer refuses it; upgrade converts.
    s3 = aws.client("s3", fresh_sinks)
    old = arrow("labels", labels(rows)).append_column(
        "batch_id", pa.array([7] * len(labels(rows)), pa.int64())
    )
    day, hour = partition(rows[0]["event_time"])
    buffer = io.BytesIO()
    pq.write_table(old, buffer)
    key = f"labels/dt={day}/hour={hour}/q-batch-000000000007-0000.parquet"
    s3.put_object(Bucket=fresh_sinks.bucket, Key=key, Body=buffer.getvalue())
    refused = lake_cli(fresh_sinks, "query", "SELECT count(*) FROM labels")
    assert refused.exit_code == 1 and "run `fraudstream lake upgrade`" in refused.output
    upgraded = lake_cli(fresh_sinks, "upgrade", "--query-id", "q")
    assert upgraded.exit_code == 0, upgraded.output
    assert "labels: converted 1 objects; batches up to 7 recorded for q" in upgraded.output
    assert "transactions: already a Delta table" in upgraded.output
    assert answer(fresh_sinks, "query", "SELECT count(*) AS n FROM labels") == [
        {"n": len(labels(rows))}
    ]
    with LakeWriter(fresh_sinks, query="q") as writer:  # batch 7 is recognised as written
        assert writer.write("labels", 7, old).skipped == ["labels"]
        assert writer.write("labels", 8, old.slice(0, 1)).commits == {"labels": 2}
    assert answer(fresh_sinks, "query", "SELECT count(*) AS n FROM labels") == [
        {"n": len(labels(rows)) + 1}
    ]
