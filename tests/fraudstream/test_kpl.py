"""The KPL aggregation codec: round trips, framing checks, protobuf corner cases, and
interoperability with the awslabs ``aws-kinesis-agg`` package in both directions."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudstream import kpl
from fraudstream.kpl import MAGIC, Aggregator, KplFormatError, UserRecord

keys = st.text(min_size=1, max_size=40)
hash_keys = st.integers(min_value=0, max_value=kpl.HASH_KEY_MAX).map(str)
records = st.lists(
    st.builds(UserRecord, keys, st.binary(max_size=300), st.none() | hash_keys),
    min_size=1,
    max_size=60,
)


def frame(body: bytes) -> bytes:
    """Magic + protobuf + its digest: an aggregated record around a hand-written body."""
    return MAGIC + body + hashlib.md5(body, usedforsecurity=False).digest()


@given(records)
@settings(max_examples=200)
def test_round_trip_keeps_every_record_in_order(items: list[UserRecord]) -> None:
    data = kpl.encode(items)
    assert data.startswith(MAGIC)
    assert kpl.decode(data) == items
    keys_out, data_out = kpl.deaggregate(data, "outer")
    assert keys_out == [r.partition_key for r in items]
    assert data_out == [r.data for r in items]


@given(records, keys, st.binary(max_size=300), st.none() | hash_keys)
@settings(max_examples=200)
def test_aggregator_knows_its_exact_size_before_and_after(
    items: list[UserRecord], key: str, data: bytes, ehk: str | None
) -> None:
    aggregator = Aggregator()
    for record in items:
        aggregator.add(record.partition_key, record.data, record.explicit_hash_key)
    assert aggregator.size == len(aggregator.finish())
    cost = aggregator.cost(key, data, ehk)
    aggregator.add(key, data, ehk)
    finished = aggregator.finish()
    assert aggregator.size == len(finished)
    assert len(finished) - len(kpl.encode(items)) == cost
    aggregator.clear()
    assert aggregator.count == 0
    with pytest.raises(ValueError, match="at least one"):
        aggregator.finish()


def test_shared_keys_are_stored_once() -> None:
    one = kpl.encode([UserRecord("card-1", b"a")])
    many = kpl.encode([UserRecord("card-1", b"a")] * 50)
    assert many.count(b"card-1") == 1 and len(many) > len(one)


def test_large_records_and_indices_use_multi_byte_varints() -> None:
    big = UserRecord("k", b"x" * 300_000)
    assert kpl.decode(kpl.encode([big])) == [big]
    many = [UserRecord(f"card-{i}", str(i).encode()) for i in range(20_000)]  # 3-byte index
    assert kpl.deaggregate(kpl.encode(many), "outer") == (
        [r.partition_key for r in many],
        [r.data for r in many],
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"{}", b'{"schema_version":1}', MAGIC[:3], b"\x00" + MAGIC + b"x" * 40],
)
def test_data_without_magic_bytes_is_one_plain_record(data: bytes) -> None:
    assert kpl.deaggregate(data, "card-9") == (["card-9"], [data])
    assert kpl.count(data) == 1
    with pytest.raises(KplFormatError, match="not_aggregated"):
        kpl.decode(data)


def test_digest_mismatch_is_a_plain_record() -> None:
    data = bytearray(kpl.encode([UserRecord("k", b"payload")]))
    data[-1] ^= 0xFF
    assert kpl.deaggregate(bytes(data), "outer") == (["outer"], [bytes(data)])
    with pytest.raises(KplFormatError, match="bad_digest"):
        kpl.decode(bytes(data))


@pytest.mark.parametrize("cut", [1, 5, 16, 17])
def test_truncated_records_are_plain_records(cut: int) -> None:
    data = kpl.encode([UserRecord("k", b"payload"), UserRecord("j", b"more")])[:-cut]
    assert kpl.deaggregate(data, "outer") == (["outer"], [data])
    with pytest.raises(KplFormatError):
        kpl.decode(data)


def test_magic_with_nothing_after_it_is_a_plain_record() -> None:
    for data in (MAGIC, MAGIC + b"\x00" * 16):
        assert kpl.deaggregate(data, "outer") == (["outer"], [data])
        with pytest.raises(KplFormatError, match="truncated"):
            kpl.decode(data)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x1a\x05\x08\x00\x1a\x05ab", "truncated"),  # data longer than the record
        (b"\x0a\x01k\x1a\x02\x08\x00", "bad_protobuf"),  # a record without data
        (b"\x0a\x01k\x1a\x03\x1a\x01a", "bad_protobuf"),  # a record without its key index
        (b"\x0a\x01k\x1a\x05\x08\x01\x1a\x01a", "bad_protobuf"),  # index outside the table
        (b"\x0a\x01k\x1a\x07\x08\x00\x10\x00\x1a\x01a", "bad_protobuf"),  # no hash key table
        (b"\x0a\x02\xff\xfe", "bad_protobuf"),  # a key that is not UTF-8
        (b"\x0b", "bad_protobuf"),  # wire type 3 (groups) is not supported
        (b"\x08" + b"\xff" * 11, "bad_protobuf"),  # a varint longer than ten bytes
        (b"\x08", "truncated"),  # a varint cut short
    ],
)
def test_malformed_protobuf_is_refused_by_decode_and_plain_for_deaggregate(
    body: bytes, reason: str
) -> None:
    data = frame(body)
    with pytest.raises(KplFormatError, match=reason):
        kpl.decode(data)
    assert kpl.deaggregate(data, "outer") == (["outer"], [data])


def test_unknown_fields_and_tags_are_skipped() -> None:
    tag = b"\x22\x05\x0a\x01t\x12\x00"  # Tag{key="t", value=""} inside a record
    record = b"\x08\x00" + tag + b"\x1a\x02hi" + b"\x28\x07" + b"\x31" + b"\x00" * 8
    body = (
        b"\x0a\x01k"  # partition key table
        + b"\x20\x96\x01"  # unknown varint field 4
        + b"\x2d\x00\x00\x00\x00"  # unknown fixed32 field 5
        + b"\x32\x03abc"  # unknown length-delimited field 6
        + b"\x1a"
        + bytes([len(record)])
        + record
    )
    assert kpl.decode(frame(body)) == [UserRecord("k", b"hi")]
    assert kpl.deaggregate(frame(body), "outer") == (["k"], [b"hi"])


def test_fields_may_come_in_any_order() -> None:
    body = b"\x1a\x05\x08\x00\x1a\x01a" + b"\x0a\x01k" + b"\x1a\x07\x08\x00\x10\x00\x1a\x01b"
    body += b"\x12\x011"
    assert kpl.decode(frame(body)) == [UserRecord("k", b"a"), UserRecord("k", b"b", "1")]


def test_hash_key_is_the_md5_of_the_partition_key() -> None:
    assert kpl.hash_key("") == int(hashlib.md5(b"", usedforsecurity=False).hexdigest(), 16)
    assert 0 <= kpl.hash_key("tok_0123456789abcdef_4242") <= kpl.HASH_KEY_MAX


# --- interoperability with awslabs' aws-kinesis-agg (a test-only dependency) ----------------


def test_records_aggregated_by_aws_kinesis_agg_deaggregate_here() -> None:
    from aws_kinesis_agg.aggregator import RecordAggregator

    aggregator = RecordAggregator()
    sent = [
        (f"card-{i % 7}", None if i % 3 else str(kpl.hash_key(f"h{i}")), f"event {i}".encode())
        for i in range(100)
    ]
    for key, ehk, data in sent:
        assert aggregator.add_user_record(key, data, ehk) is None  # nothing full yet
    partition_key, explicit_hash_key, data = aggregator.clear_and_get().get_contents()
    assert partition_key == "card-0" and explicit_hash_key
    assert kpl.decode(data) == [UserRecord(k, d, e) for k, e, d in sent]
    assert kpl.deaggregate(data, partition_key) == ([k for k, _, _ in sent], [d for *_, d in sent])


def test_our_records_deaggregate_in_aws_kinesis_agg() -> None:
    from aws_kinesis_agg.deaggregator import iter_deaggregate_records

    sent = [UserRecord(f"card-{i % 5}", f"event {i}".encode(), str(i)) for i in range(50)]
    kinesis_record = {
        "Data": kpl.encode(sent),
        "PartitionKey": "card-0",
        "SequenceNumber": "49500",
        "ApproximateArrivalTimestamp": 1.0,
    }
    plain = {**kinesis_record, "Data": b"plain", "SequenceNumber": "49501"}
    records = iter_deaggregate_records([kinesis_record, plain], data_format="Boto3")
    out = [r["kinesis"] for r in records]
    assert [(r["partitionKey"], base64.b64decode(r["data"])) for r in out[:-1]] == [
        (r.partition_key, r.data) for r in sent
    ]
    assert [r["explicitHashKey"] for r in out[:-1]] == [r.explicit_hash_key for r in sent]
    assert [r["subSequenceNumber"] for r in out[:-1]] == list(range(50))
    assert (out[-1]["partitionKey"], out[-1]["data"]) == ("card-0", b"plain")  # passed whole
