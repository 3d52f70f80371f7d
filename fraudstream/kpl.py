"""KPL record aggregation: many user records in one Kinesis record, as the Kinesis Producer
Library writes them, and back.

An aggregated record is ``MAGIC`` (``F3 89 9A C2``), then a protobuf ``AggregatedRecord``, then
the MD5 digest of that protobuf (16 bytes)::

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;   // read and ignored
    }
    message Tag { required string key = 1; optional string value = 2; }

Why: a Kinesis shard takes 1,000 records/s but 1 MiB/s, so 250-byte events hit the record limit
at a quarter of the byte limit; packing them lifts the ceiling four-fold and cuts PutRecords
work per event. Used by the producer (:class:`Aggregator`) and by the processor's Kinesis
source (:func:`deaggregate`); pure, no I/O. The protobuf is written and read by hand: the
message is small, and neither side then needs the protobuf runtime.

De-aggregation follows the Kinesis Client Library: data without the magic bytes, too short to
hold a digest, whose digest does not match, or whose protobuf does not parse is a *plain*
record and is delivered whole, as one user record (so bad input reaches validation and
quarantine instead of stopping the stream). :func:`decode` is the strict variant that says why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from fraudstream.errors import FraudstreamError

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_SIZE = 16
OVERHEAD = len(MAGIC) + DIGEST_SIZE  # bytes around the protobuf
HASH_KEY_MAX = 2**128 - 1

_PK_TABLE, _EHK_TABLE, _RECORDS = 1, 2, 3  # AggregatedRecord fields
_R_PK_INDEX, _R_EHK_INDEX, _R_DATA, _R_TAGS = 1, 2, 3, 4  # Record fields
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5  # wire types


class KplFormatError(FraudstreamError, ValueError):
    """Data is not a well-formed aggregated record; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One record as its producer put it: what a consumer sees after de-aggregation."""

    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


def hash_key(partition_key: str) -> int:
    """The 128-bit hash key Kinesis derives from a partition key (MD5, big-endian)."""
    return int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest())


# --- encoding ------------------------------------------------------------------------------


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = tuple(_encode_varint(n) for n in range(1 << 14))  # one- and two-byte varints


def _varint(value: int) -> bytes:
    return _SMALL[value] if value < 16384 else _encode_varint(value)


def _field(key: int, payload: bytes) -> bytes:
    """A length-delimited field: key byte, length, payload (every key here fits one byte)."""
    return bytes((key,)) + _varint(len(payload)) + payload


class Aggregator:
    """Packs user records into one aggregated record, knowing its exact size as it grows.

    ``size`` is the encoded size so far (magic and digest included), so a producer can close
    the record before a limit rather than after. Partition and explicit hash keys are stored
    once each in the tables, as the KPL does. Built for the producer's hot path: a record
    costs a dictionary look-up and a few list appends.
    """

    __slots__ = ("_ehks", "_parts", "_pks", "count", "size")

    def __init__(self) -> None:
        self._pks: dict[str, bytes] = {}  # partition key -> its encoded index field
        self._ehks: dict[str, bytes] = {}  # explicit hash key -> its encoded index field
        self._parts: list[bytes] = []
        self.count = 0
        self.size = OVERHEAD

    def _index(self, table: dict[str, bytes], key: str, tag: bytes) -> bytes:
        field = table.get(key)
        if field is None:
            field = table[key] = tag + _varint(len(table))
            self.size += _table_entry_size(key)
        return field

    def cost(self, partition_key: str, data: bytes, explicit_hash_key: str | None = None) -> int:
        """Bytes that :meth:`add` would add for this record."""
        extra = 0
        pk_field = self._pks.get(partition_key)
        if pk_field is None:
            pk_field = b"\x08" + _varint(len(self._pks))
            extra += _table_entry_size(partition_key)
        inner = len(pk_field) + 1 + len(_varint(len(data))) + len(data)
        if explicit_hash_key is not None:
            ehk_field = self._ehks.get(explicit_hash_key)
            if ehk_field is None:
                ehk_field = b"\x10" + _varint(len(self._ehks))
                extra += _table_entry_size(explicit_hash_key)
            inner += len(ehk_field)
        return extra + 1 + len(_varint(inner)) + inner

    def add(self, partition_key: str, data: bytes, explicit_hash_key: str | None = None) -> None:
        pk_field = self._pks.get(partition_key) or self._index(self._pks, partition_key, b"\x08")
        length = len(data)
        data_head = _SMALL[length] if length < 16384 else _encode_varint(length)
        inner = len(pk_field) + 1 + len(data_head) + length
        parts = self._parts
        if explicit_hash_key is None:
            head = _varint(inner)
            parts += (b"\x1a", head, pk_field, b"\x1a", data_head, data)
        else:
            ehk_field = self._ehks.get(explicit_hash_key) or self._index(
                self._ehks, explicit_hash_key, b"\x10"
            )
            inner += len(ehk_field)
            head = _varint(inner)
            parts += (b"\x1a", head, pk_field, ehk_field, b"\x1a", data_head, data)
        self.size += 1 + len(head) + inner
        self.count += 1

    def finish(self) -> bytes:
        """The aggregated record's bytes (the aggregator can be reused after :meth:`clear`).

        An empty aggregate is refused: readers treat a record with nothing between magic and
        digest as plain data, so it would not round-trip."""
        if not self.count:
            raise ValueError("an aggregated record needs at least one user record")
        body = b"".join(
            [
                *(_field(0x0A, key.encode()) for key in self._pks),
                *(_field(0x12, key.encode()) for key in self._ehks),
                *self._parts,
            ]
        )
        return MAGIC + body + hashlib.md5(body, usedforsecurity=False).digest()

    def clear(self) -> None:
        self._pks.clear()
        self._ehks.clear()
        self._parts.clear()
        self.count = 0
        self.size = OVERHEAD


def _table_entry_size(key: str) -> int:
    length = len(key.encode())
    return 1 + len(_varint(length)) + length


def encode(records: Iterable[UserRecord]) -> bytes:
    """One aggregated record holding ``records`` in order (at least one)."""
    aggregator = Aggregator()
    for record in records:
        aggregator.add(record.partition_key, record.data, record.explicit_hash_key)
    return aggregator.finish()


# --- decoding ------------------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise KplFormatError("truncated", "varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise KplFormatError("bad_protobuf", "varint longer than 10 bytes")


def _skip(buf: bytes, pos: int, end: int, wire: int) -> int:
    """Position after an unknown field's value (protobuf requires readers to skip them)."""
    if wire == _VARINT:
        return _read_varint(buf, pos, end)[1]
    if wire == _FIXED64:
        pos += 8
    elif wire == _FIXED32:
        pos += 4
    elif wire == _LENGTH:
        length, pos = _read_varint(buf, pos, end)
        pos += length
    else:
        raise KplFormatError("bad_protobuf", f"unsupported wire type {wire}")
    if pos > end:
        raise KplFormatError("truncated", "field runs past the end")
    return pos


def _length_delimited(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """(start, stop) of a length-delimited value at ``pos``."""
    length, pos = _read_varint(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise KplFormatError("truncated", "field runs past the end")
    return pos, stop


def _text(buf: bytes, start: int, stop: int) -> str:
    try:
        return buf[start:stop].decode("utf-8")
    except UnicodeDecodeError as error:
        raise KplFormatError("bad_protobuf", "a key is not UTF-8") from error


def _record(buf: bytes, pos: int, end: int) -> tuple[int, int | None, bytes]:
    """One ``Record`` message: (partition key index, explicit hash key index, data)."""
    pk_index: int | None = None
    ehk_index: int | None = None
    data: bytes | None = None
    while pos < end:
        key, pos = _read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == _R_PK_INDEX and wire == _VARINT:
            pk_index, pos = _read_varint(buf, pos, end)
        elif number == _R_EHK_INDEX and wire == _VARINT:
            ehk_index, pos = _read_varint(buf, pos, end)
        elif number == _R_DATA and wire == _LENGTH:
            start, pos = _length_delimited(buf, pos, end)
            data = buf[start:pos]
        else:  # tags (field 4) and anything unknown
            pos = _skip(buf, pos, end, wire)
    if pk_index is None or data is None:
        raise KplFormatError("bad_protobuf", "a record lacks its partition key index or data")
    return pk_index, ehk_index, data


@dataclass
class _Parsed:
    pks: list[str]
    ehks: list[str]
    pk_indices: list[int]
    ehk_indices: list[int | None]
    data: list[bytes]


def _parse(body: bytes) -> _Parsed:
    """Read an ``AggregatedRecord``. The usual record layout (as the KPL and
    :class:`Aggregator` write it: a partition key index below 16,384, no explicit hash key,
    no tags) takes a fast path; anything else goes through the general field reader."""
    out = _Parsed([], [], [], [], [])
    pk_indices, ehk_indices, datas = out.pk_indices, out.ehk_indices, out.data
    pos, end = 0, len(body)
    try:
        while pos < end:
            key = body[pos]
            if key == 0x1A:  # a record (field 3, length-delimited)
                length = body[pos + 1]
                if length < 0x80:
                    start = pos + 2
                else:
                    length, start = _read_varint(body, pos + 1, end)
                stop = start + length
                if stop > end:
                    raise KplFormatError("truncated", "a record runs past the end")
                if stop - start >= 5 and body[start] == 0x08:
                    index = body[start + 1]
                    at = start + 2
                    if index >= 0x80 and body[at] < 0x80:  # two-byte index (< 16,384)
                        index = (index & 0x7F) | (body[at] << 7)
                        at += 1
                    if index < 16384 and at + 1 < stop and body[at] == 0x1A:
                        size = body[at + 1]
                        first = at + 2
                        if size >= 0x80:
                            size, first = _read_varint(body, at + 1, stop)
                        if first + size == stop:
                            pk_indices.append(index)
                            ehk_indices.append(None)
                            datas.append(body[first:stop])
                            pos = stop
                            continue
                pk_index, ehk_index, data = _record(body, start, stop)
                pk_indices.append(pk_index)
                ehk_indices.append(ehk_index)
                datas.append(data)
                pos = stop
                continue
            key, pos = _read_varint(body, pos, end)
            number, wire = key >> 3, key & 7
            if wire == _LENGTH and number in (_PK_TABLE, _EHK_TABLE):
                start, pos = _length_delimited(body, pos, end)
                (out.pks if number == _PK_TABLE else out.ehks).append(_text(body, start, pos))
            else:
                pos = _skip(body, pos, end, wire)
    except IndexError as error:
        raise KplFormatError("truncated", "the protobuf ends inside a field") from error
    if any(i >= len(out.pks) for i in pk_indices) or any(
        i is not None and i >= len(out.ehks) for i in ehk_indices
    ):
        raise KplFormatError("bad_protobuf", "a record's key index is outside its table")
    return out


def _body(data: bytes) -> bytes:
    """The protobuf of an aggregated record, its framing and digest checked."""
    if not data.startswith(MAGIC):
        raise KplFormatError("not_aggregated", "no KPL magic bytes")
    if len(data) <= OVERHEAD:
        raise KplFormatError("truncated", f"{len(data)} bytes cannot hold a protobuf and digest")
    body = data[len(MAGIC) : -DIGEST_SIZE]
    if hashlib.md5(body, usedforsecurity=False).digest() != data[-DIGEST_SIZE:]:
        raise KplFormatError("bad_digest", "MD5 digest does not match the protobuf")
    return body


def decode(data: bytes) -> list[UserRecord]:
    """The user records of an aggregated record; :class:`KplFormatError` says what is wrong."""
    parsed = _parse(_body(data))
    pks, ehks = parsed.pks, parsed.ehks
    return [
        UserRecord(pks[p], payload, None if e is None else ehks[e])
        for p, e, payload in zip(parsed.pk_indices, parsed.ehk_indices, parsed.data, strict=True)
    ]


def deaggregate(data: bytes, partition_key: str) -> tuple[list[str], list[bytes]]:
    """Partition keys and data of the user records in one Kinesis record, as two lists.

    A record that is not a well-formed aggregated record is one plain user record (see the
    module docstring). Lists rather than objects: the source turns them into Arrow columns.
    """
    if not data.startswith(MAGIC):
        return [partition_key], [data]
    try:
        parsed = _parse(_body(data))
    except KplFormatError:
        return [partition_key], [data]
    pks = parsed.pks
    return [pks[i] for i in parsed.pk_indices], parsed.data


def count(data: bytes) -> int:
    """How many user records one Kinesis record carries (1 for a plain record)."""
    return len(deaggregate(data, "")[1])
