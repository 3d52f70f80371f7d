"""The emulator's S3 listing: moto's pages exactly, at the cost of the page.

The patched and the stock listing answer the same buckets in one moto backend (stock moto's is
kept as ``s3_listing._ORIGINAL``); work is counted (key lookups), not timed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from moto.s3.models import S3Backend

from fraudstream.stack import s3_listing

ACCOUNT = "123456789012"


@pytest.fixture
def backend() -> Iterator[S3Backend]:
    s3_listing.apply()
    try:
        yield S3Backend("us-east-1", ACCOUNT)
    finally:
        s3_listing.restore()


@pytest.fixture
def bucket(backend: S3Backend) -> str:
    """A new bucket (moto's bucket names are global across its backends)."""
    name = f"listing-{uuid.uuid4().hex[:12]}"
    backend.create_bucket(name, "us-east-1")
    return name


def names(entries: list[Any]) -> list[str]:
    return [e if isinstance(e, str) else e.name for e in entries]


def every_page(
    list_v2: Any, backend: S3Backend, bucket: str, **query: Any
) -> list[tuple[list[str], bool]]:
    """Every page of a listing, following continuation tokens as a client does."""
    pages = []
    token = None
    while True:
        entries, truncated, token = list_v2(
            backend,
            backend.get_bucket(bucket),
            query.get("prefix"),
            query.get("delimiter"),
            token,
            query.get("start_after") if token is None else None,
            query.get("max_keys", 1000),
        )
        pages.append((names(entries), truncated))
        if not truncated:
            return pages


def lake_like_keys(count: int, seed: int) -> list[str]:
    """Keys shaped like the lake's: tables, partitions, data files and a Delta log."""
    rng = random.Random(seed)
    keys = []
    for i in range(count):
        table = rng.choice(["transactions", "decisions", "quarantine", "labels"])
        if rng.random() < 0.2:
            keys.append(f"lake/{table}/_delta_log/{i:020d}.json")
        else:
            keys.append(
                f"lake/{table}/dt=2026-12-0{rng.randint(1, 5)}/hour={rng.randint(0, 23):02d}/"
                f"part-{i:06d}.parquet"
            )
    keys.extend(["top.txt", "lake/README", "lake/transactions/"])
    return keys


QUERIES = [
    {},
    {"max_keys": 7},
    {"prefix": "lake/", "max_keys": 13},
    {"prefix": "lake/transactions/_delta_log/", "max_keys": 5},
    {"prefix": "lake/transactions/_delta_log/", "start_after": "lake/transactions/_delta_log/0"},
    {"prefix": "lake/", "delimiter": "/", "max_keys": 2},
    {"prefix": "lake/labels/", "delimiter": "/", "max_keys": 3},
    {"delimiter": "/"},
    {"prefix": "lake/decisions/dt=2026-12-03/", "delimiter": "/", "max_keys": 4},
    {"prefix": "nothing-here/"},
    {"prefix": "lake/q", "max_keys": 1},
    {"start_after": "lake/labels/dt=2026-12-02", "max_keys": 50},
]


@pytest.mark.parametrize("query", QUERIES, ids=[str(q) for q in QUERIES])
def test_pages_equal_stock_moto_through_puts_and_deletes(
    backend: S3Backend, bucket: str, query: dict[str, Any]
) -> None:
    keys = lake_like_keys(600, seed=1)
    for key in keys:
        backend.put_object(bucket, key, b"x")
    for key in random.Random(2).sample(keys, 150):  # the index follows deletes too
        backend.delete_object(bucket, key)
    for key in keys[:40]:  # and overwrites of names it holds, and names put back
        backend.put_object(bucket, key, b"y")
    patched = every_page(type(backend).list_objects_v2, backend, bucket, **query)
    stock = every_page(s3_listing._ORIGINAL["list_objects_v2"], backend, bucket, **query)
    assert patched == stock
    assert sum(len(p) for p, _ in patched) > 0 or query.get("prefix") == "nothing-here/"


def test_versioned_bucket_hides_delete_markers_as_stock_moto(
    backend: S3Backend, bucket: str
) -> None:
    backend.put_bucket_versioning(bucket, "Enabled")
    for i in range(30):
        backend.put_object(bucket, f"a/{i:02d}", b"v1")
        backend.put_object(bucket, f"a/{i:02d}", b"v2")
    for i in range(0, 30, 3):
        backend.delete_object(bucket, f"a/{i:02d}")  # a delete marker becomes the latest
    for query in ({"max_keys": 4}, {"delimiter": "/"}, {"prefix": "a/", "start_after": "a/10"}):
        patched = every_page(type(backend).list_objects_v2, backend, bucket, **query)
        stock = every_page(s3_listing._ORIGINAL["list_objects_v2"], backend, bucket, **query)
        assert patched == stock, query
    listed = every_page(type(backend).list_objects_v2, backend, bucket, prefix="a/")
    assert len(listed[0][0]) == 20


def test_index_rebuilds_when_the_store_changed_behind_its_back(
    backend: S3Backend, bucket: str
) -> None:
    backend.put_object(bucket, "one", b"1")
    store = backend.get_bucket(bucket).keys
    assert s3_listing.index_of(store).names == ["one"]
    dict.__setitem__(store, "two", dict.__getitem__(store, "one"))  # bypasses the mutators
    assert s3_listing.index_of(store).names == ["one", "two"]


class CountingLookups:
    """Counts the key lookups (``getlist``) a listing makes on a bucket's store."""

    def __init__(self, store: Any) -> None:
        self.count = 0
        original = store.getlist

        def getlist(key: str, default: Any = None) -> Any:
            self.count += 1
            return original(key, default)

        store.getlist = getlist


@pytest.mark.parametrize("bucket_keys", [1_000, 20_000])
def test_a_page_reads_only_the_page_whatever_the_bucket(
    backend: S3Backend, bucket: str, bucket_keys: int
) -> None:
    for key in lake_like_keys(bucket_keys, seed=3):
        backend.put_object(bucket, key, b"x")
    store = backend.get_bucket(bucket).keys
    s3_listing.index_of(store)  # built once, as the first listing after start-up does
    counter = CountingLookups(store)
    entries, truncated, _ = backend.list_objects_v2(
        backend.get_bucket(bucket), "lake/", None, None, None, 100
    )
    assert len(entries) == 100 and truncated
    assert counter.count == 101  # the page and the one entry that says more follow


def test_name_index_follows_adds_and_removes_in_order() -> None:
    index = s3_listing.NameIndex(["b", "d"])
    for name in ("c", "a", "c", "e"):
        index.add(name)
    index.remove("d")
    index.remove("missing")
    index.add("d")
    index.remove("a")
    assert index.names == ["b", "c", "d", "e"]
    assert index.present == {"b", "c", "d", "e"}
