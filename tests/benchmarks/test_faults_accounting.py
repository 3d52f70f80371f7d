"""The fault suite's pure parts: exactly-once accounting, the malformed records against the
event contract, the checkpoint's offset log, the results table."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.faults.accounting import account, check_quarantine
from benchmarks.faults.malformed import KINDS, malformed_records
from benchmarks.faults.progress import (
    Batch,
    caught_up,
    committed_rows,
    parse_offset_log,
    read_batches,
)
from benchmarks.faults.report import markdown_table, text_table
from fraudstream.events import InvalidEvent, parse_event

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_exactly_once_delivery_passes() -> None:
    result = account(
        ["a", "b", "c"],
        [("a", "approve"), ("b", "block"), ("c", "review")],
        Counter({"b": 1, "c": 1}),
    )
    assert result.exactly_once
    assert (result.sent, result.rows_out, result.flagged, result.alerts) == (3, 3, 2, 2)


def test_duplicates_losses_and_strays_are_each_counted() -> None:
    result = account(
        ["a", "b", "c", "d"],
        [("a", "approve"), ("a", "approve"), ("b", "block"), ("x", "approve")],
        Counter({"b": 2, "z": 1}),
    )
    assert result.lake_duplicates == 1
    assert result.lost == 2  # c and d
    assert result.unexpected == 1  # x was never sent
    assert result.alert_duplicates == 1
    assert result.alerts_unexpected == 1  # z was not flagged
    assert (result.duplicates, result.losses) == (2, 2)
    assert not result.exactly_once


def test_a_flagged_transaction_without_its_alert_is_a_loss() -> None:
    result = account(["a"], [("a", "review")], Counter())
    assert result.alerts_lost == 1 and result.losses == 1 and not result.exactly_once


def test_quarantine_matches_records_by_stream_position_and_reason() -> None:
    sent = {("s0", "1"): "bad_json", ("s0", "2"): "bad_amount", ("s1", "1"): "missing_field"}
    rows = [
        (("s0", "1"), "bad_json"),
        (("s0", "2"), "bad_value"),  # wrong reason
        (("s0", "2"), "bad_value"),  # and twice
        (("s9", "9"), "bad_json"),  # not one of ours
    ]
    result = check_quarantine(sent, rows)
    assert (result.lost, result.duplicates, result.wrong_reason, result.unexpected) == (1, 1, 1, 1)
    assert result.by_reason == {"bad_json": 2, "bad_value": 2}
    assert not result.ok
    assert check_quarantine(sent, [(k, r) for k, r in sent.items()]).ok


def test_every_malformed_record_earns_its_reason_from_the_contract() -> None:
    flood = list(malformed_records(250, NOW))
    assert Counter(m.reason for m in flood) == {kind: 50 for kind in KINDS}
    for record in flood:
        with pytest.raises(InvalidEvent) as caught:
            parse_event(record.data, now=NOW + timedelta(hours=6))  # read hours later
        assert caught.value.reason == record.reason, record.data


def test_malformed_records_are_distinct_payloads() -> None:
    flood = list(malformed_records(1000, NOW))
    assert len({m.data for m in flood}) == len(flood)


OFFSET_LOG = "\n".join(
    [
        "v1",
        json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": 1, "conf": {}}),
        json.dumps(
            {
                "v": 1,
                "stream": {
                    "name": "tx-1",
                    "arn": "arn:aws:kinesis:x:1:stream/tx-1",
                    "createdMs": 5,
                },
                "start": {"type": "TRIM_HORIZON"},
                "shards": {
                    "shardId-0": {"seq": "120", "closed": False},
                    "shardId-1": {"seq": None, "closed": False},
                },
            }
        ),
        "-",
    ]
)


def test_offset_log_gives_each_shards_consumed_position() -> None:
    (offset,) = parse_offset_log(OFFSET_LOG)
    assert offset.stream.name == "tx-1"
    assert offset.shards["shardId-0"].seq == "120"


def test_offset_log_of_the_processors_source_gives_both_streams() -> None:
    lines = OFFSET_LOG.splitlines()
    tx = json.loads(lines[2])
    labels = {**tx, "stream": {**tx["stream"], "name": "labels-1"}}
    combined = "\n".join([*lines[:2], json.dumps({"transactions": tx, "labels": labels})])
    offsets = {offset.stream.name: offset for offset in parse_offset_log(combined)}
    assert sorted(offsets) == ["labels-1", "tx-1"]
    assert offsets["tx-1"].shards["shardId-0"].seq == "120"


def test_caught_up_compares_sequence_numbers_as_integers() -> None:
    assert caught_up({"a": 120, "b": 9}, {"a": 120, "b": 10})
    assert not caught_up({"a": 120, "b": 9}, {"a": 119, "b": 10})
    assert not caught_up({"a": 1}, {})  # nothing consumed on a shard that holds records
    assert caught_up({}, {})


def test_batch_log_keeps_the_last_run_of_a_replayed_batch(tmp_path: Path) -> None:
    log = tmp_path / "batches.jsonl"
    lines = [
        Batch(1.0, 10, 0, 100, 0, {"endpoint": 100}),
        Batch(2.0, 10, 1, 50, 2),
        Batch(3.0, 11, 1, 50, 2),  # batch 1 replayed by the restarted process
    ]
    log.write_text("".join(b.to_json() + "\n" for b in lines) + '{"at": 4.0, "pid"')  # cut short
    batches = read_batches(log)
    assert len(batches) == 3
    assert committed_rows(batches) == 150


def test_tables_show_every_column() -> None:
    rows = [
        {
            "scenario": "kill_restart",
            "events_in": 12_000,
            "rows_out": 12_000,
            "duplicates": 0,
            "lost": 0,
            "quarantined": 0,
            "recovery_s": 14.2,
            "result": "pass",
        }
    ]
    text = text_table(rows)
    assert "kill_restart" in text and "12,000" in text and "14.2" in text
    markdown = markdown_table(rows)
    assert markdown.splitlines()[0].startswith("| scenario | events in |")
    assert len(markdown.splitlines()) == 3
