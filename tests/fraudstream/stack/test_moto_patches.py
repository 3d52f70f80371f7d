"""The Kinesis patch: same answers as stock moto, and per-call work independent of shard size.

Work is counted, not timed: the shard's record dict is replaced by one that counts every
record it yields or looks up, so the test is deterministic on any machine.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import pytest
from moto.kinesis import models

from fraudstream.stack import moto_patches, s3_listing

STOCK = {
    name: getattr(models.Shard, name)
    for name in (
        "put_record",
        "get_records",
        "get_min_sequence_number",
        "get_max_sequence_number",
        "get_sequence_number_at",
    )
}


class CountingDict(OrderedDict[int, Any]):
    """An OrderedDict that counts records touched through iteration and lookups."""

    touched = 0

    def __iter__(self) -> Iterator[int]:
        for key in super().__iter__():
            self.touched += 1
            yield key

    def __getitem__(self, key: int) -> Any:
        self.touched += 1
        return super().__getitem__(key)

    def items(self) -> Any:
        return [(k, super(CountingDict, self).__getitem__(k)) for k in self]

    def keys(self) -> Any:
        return list(self)

    def values(self) -> Any:
        return [super(CountingDict, self).__getitem__(k) for k in self]


@pytest.fixture
def patched() -> Iterator[None]:
    """The patch applied for one test, then every piece of moto it replaced put back."""
    from moto import backends
    from moto.core.responses import BaseResponse

    moto_patches._APPLIED = False
    moto_patches.apply()
    yield
    for name, function in STOCK.items():
        setattr(models.Shard, name, function)
    for name, function in moto_patches._ORIGINAL.items():
        if name == "list_of_moto_modules":
            backends.list_of_moto_modules = function  # type: ignore[assignment]
        elif name == "enrich_response":
            BaseResponse._enrich_response = staticmethod(function)  # type: ignore[method-assign]
        else:
            setattr(models.KinesisBackend, name, function)
    s3_listing.restore()
    moto_patches._APPLIED = False


def filled_shard(records: int, put: Any) -> models.Shard:
    shard = models.Shard(0, 0, 2**128)
    shard.records = CountingDict()
    data = base64.b64encode(b"x").decode()
    for _ in range(records):
        put(shard, "pk", data, "")
    return shard


def work_per_call(shard: models.Shard) -> tuple[int, int]:
    """Records touched by one put and by one 100-record read from the middle of the shard."""
    counting: CountingDict = shard.records  # type: ignore[assignment]
    counting.touched = 0
    shard.put_record("pk", base64.b64encode(b"y").decode(), "")
    put_work = counting.touched
    counting.touched = 0
    middle = str(len(counting) // 2)
    records, _, _ = shard.get_records(middle, 100)
    assert len(records) == 100
    return put_work, counting.touched


@pytest.mark.usefixtures("patched")
def test_patched_work_does_not_grow_with_shard_size() -> None:
    small = work_per_call(filled_shard(1_000, models.Shard.put_record))
    large = work_per_call(filled_shard(50_000, models.Shard.put_record))
    assert small == large
    assert large[1] <= 101  # a 100-record read touches the 100 records (and the newest)


def test_stock_work_grows_with_shard_size() -> None:
    """The measurement above would catch a regression: stock moto's work grows with size."""
    small = work_per_call(filled_shard(250, STOCK["put_record"]))
    large = work_per_call(filled_shard(5_000, STOCK["put_record"]))
    assert large[0] > 10 * small[0]
    assert large[1] > 10 * small[1]


@pytest.mark.usefixtures("patched")
def test_patched_answers_match_stock() -> None:
    shard = filled_shard(500, models.Shard.put_record)
    for start, limit in (("0", 10), ("250", 100), ("495", 100), ("500", 5), ("0", None)):
        patched_result = shard.get_records(start, limit)
        stock_result = STOCK["get_records"](shard, start, limit)
        assert [r.sequence_number for r in patched_result[0]] == [
            r.sequence_number for r in stock_result[0]
        ]
        assert patched_result[1] == stock_result[1]
    assert shard.get_min_sequence_number() == STOCK["get_min_sequence_number"](shard) == 1
    assert shard.get_max_sequence_number() == STOCK["get_max_sequence_number"](shard) == 500
    moments = [shard.records[k].created_at for k in (1, 250, 500)]
    for moment in (moments[0] - 1, *moments, moments[-1] + 1):
        assert shard.get_sequence_number_at(moment) == STOCK["get_sequence_number_at"](
            shard, moment
        )


@pytest.mark.usefixtures("patched")
def test_patch_survives_moto_replacing_the_record_dict() -> None:
    shard = filled_shard(10, models.Shard.put_record)
    shard.records = OrderedDict(list(shard.records.items())[:4])  # what a reshard does
    assert shard.get_max_sequence_number() == 4
    assert shard.put_record("pk", base64.b64encode(b"z").decode(), "") == "5"
    assert [r.sequence_number for r in shard.get_records("3", None)[0]] == [4, 5]


class RendezvousDict(OrderedDict[int, Any]):
    """Holds each store until a second put has reached its own store (or 0.5 s passed): the
    interleaving in which two unsynchronised puts read the same last sequence number."""

    def __init__(self) -> None:
        super().__init__()
        self.meeting = threading.Barrier(2, timeout=0.5)

    def __setitem__(self, key: int, value: Any) -> None:
        # Broken: the other put could not get here, it waits for ours to finish.
        with contextlib.suppress(threading.BrokenBarrierError):
            self.meeting.wait()
        super().__setitem__(key, value)


def racing_puts(put: Any) -> models.Shard:
    shard = models.Shard(0, 0, 2**128)
    shard.records = RendezvousDict()
    data = base64.b64encode(b"r").decode()
    threads = [threading.Thread(target=put, args=(shard, f"pk{i}", data, "")) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return shard


@pytest.mark.usefixtures("patched")
def test_concurrent_puts_to_one_shard_keep_every_record() -> None:
    shard = racing_puts(models.Shard.put_record)
    assert sorted(shard.records) == [1, 2]
    assert {r.partition_key for r in shard.records.values()} == {"pk0", "pk1"}
    assert [r.sequence_number for r in shard.get_records("0", None)[0]] == [1, 2]


def test_stock_concurrent_puts_lose_a_record() -> None:
    """The interleaving above is real: unsynchronised, the second record replaces the first."""
    shard = racing_puts(STOCK["put_record"])
    assert list(shard.records) == [1]


@pytest.mark.usefixtures("patched")
def test_the_service_list_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends

    stock = list(moto_patches._ORIGINAL["list_of_moto_modules"]())
    monkeypatch.setattr("os.listdir", lambda path: pytest.fail("listed the folder again"))
    assert list(backends.list_of_moto_modules()) == stock
    assert "kinesis" in stock


@pytest.mark.parametrize(
    "body",
    [
        "<ListResponse><RequestId>old</RequestId><Items/></ListResponse>",  # rewritten
        '{"Records": [{"Data": "PFJlcXVlc3RJZD4="}], "MillisBehindLatest": 0}',  # as is
        b"PAR1 parquet bytes",  # not text: moto's regex fails on it, and skips it
    ],
)
@pytest.mark.usefixtures("patched")
def test_responses_are_enriched_as_stock_moto_does(body: str | bytes) -> None:
    """The body is the same as moto's (its request id aside) and so are the headers' names; a
    body without ``<RequestId>`` is returned untouched, not scanned."""
    from moto.core.responses import BaseResponse

    stock = moto_patches._ORIGINAL["enrich_response"]
    patched_headers, patched_body = BaseResponse._enrich_response({"status": 200}, body)  # type: ignore[dict-item]
    stock_headers, stock_body = stock({"status": 200}, body)  # type: ignore[dict-item]
    request_id = patched_headers["x-amzn-requestid"]
    assert patched_headers["status"] == stock_headers["status"] == "200"
    assert sorted(patched_headers) == sorted(stock_headers)
    if isinstance(body, str) and "<RequestId>" in body:
        assert patched_body == stock_body.replace(stock_headers["x-amzn-requestid"], request_id)
        assert f"<RequestId>{request_id}</RequestId>" in patched_body
    else:
        assert patched_body is body
        assert stock_body == body


@pytest.mark.usefixtures("patched")
def test_an_answer_stops_at_ten_mib_as_on_aws() -> None:
    """Stock moto returns every record the Limit allows; AWS stops at 10 MiB (data plus
    partition keys), so a reader of aggregated records gets a bounded answer here too."""
    shard = models.Shard(0, 0, 2**128)
    data = base64.b64encode(b"x" * (600 * 1024)).decode()
    for _ in range(40):
        shard.put_record("pk", data, "")
    first, last, _ = shard.get_records("0", 10_000)
    assert len(first) == 17  # 17 x (600 KiB + 2 bytes) <= 10 MiB < 18 x
    rest, _, _ = shard.get_records(str(last), 10_000)
    assert [r.sequence_number for r in rest] == list(range(18, 35))
    assert len(STOCK["get_records"](shard, "0", 10_000)[0]) == 40
    huge = base64.b64encode(b"y" * (11 * 1024 * 1024)).decode()
    shard.put_record("pk", huge, "")
    shard.put_record("pk", data, "")
    tail, _, _ = shard.get_records("40", 10)  # one record over the cap still comes alone
    assert [r.sequence_number for r in tail] == [41]
