"""S3 listings in the emulator at the cost of the page, not of the bucket, as on AWS.

moto 5.2.5 answers every ListObjectsV2 page by copying the bucket's key dict, testing every
key against the prefix in Python, sorting all matches and then scanning for the continuation
token: each page costs the whole bucket. The lake gains thousands of objects an hour, so a
listing that took 16 ms of the emulator's CPU at 1,000 keys took 65 ms at 60,000, and listing
the whole bucket (60 pages) held the emulator for seconds, stalling every Kinesis read and
lake write behind it (the soak's p99 rose with the bucket).

The patch keeps a sorted list of each bucket's key names beside moto's dict, updated by the
dict's own mutators (a put adds a name with ``bisect.insort``, a delete removes it), and
answers a page by bisecting to the prefix or the continuation point and reading only the
page's keys. Pages, folders (``Delimiter``), continuation tokens and delete markers are
those of moto's own listing (tests compare the two on the same buckets).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from typing import Any

_ORIGINAL: dict[str, Callable[..., Any]] = {}
_LOCK = threading.RLock()  # one for every bucket's index: each change holds it for microseconds


class NameIndex:
    """A bucket's key names, sorted (the names moto's dict holds, whatever their versions)."""

    def __init__(self, names: Any) -> None:
        self.names: list[str] = sorted(names)
        self.present: set[str] = set(self.names)

    def add(self, name: str) -> None:
        if name not in self.present:
            self.present.add(name)
            insort(self.names, name)

    def remove(self, name: str) -> None:
        if name in self.present:
            self.present.discard(name)
            del self.names[bisect_left(self.names, name)]


def index_of(store: Any) -> NameIndex:
    """The index of a bucket's key store, built on first use, rebuilt if anything changed the
    store behind the mutators' backs (its size then differs from the index's)."""
    with _LOCK:
        index: NameIndex | None = store.__dict__.get("_fs_names")
        if index is None or len(index.present) != dict.__len__(store):
            index = NameIndex(dict.keys(store))
            store.__dict__["_fs_names"] = index
        return index


def _tracked(name: str, change: Callable[[NameIndex, str], None]) -> Callable[..., Any]:
    """moto's mutator ``name``, then the change applied to the store's index (if it has one)."""
    original = _ORIGINAL[name]

    def mutator(self: Any, key: str, *args: Any) -> Any:
        with _LOCK:
            result = original(self, key, *args)
            index = self.__dict__.get("_fs_names")
            if index is not None:
                change(index, key)
            return result

    return mutator


def _upper_bound(folder: str) -> str:
    """The least string greater than every string starting with ``folder``."""
    return folder[:-1] + chr(ord(folder[-1]) + 1)


def page(
    store: Any,
    *,
    prefix: str | None,
    delimiter: str | None,
    after: str | None,
    max_keys: int,
) -> tuple[list[Any], bool, str | None]:
    """Up to ``max_keys`` entries (keys, and folder names as strings) whose names start with
    ``prefix`` and sort after ``after``, in name order; whether more follow; the last name."""
    from moto.s3.models import FakeDeleteMarker

    prefix = prefix or ""
    with _LOCK:
        names = index_of(store).names
        position = bisect_left(names, prefix)
        if after is not None:
            position = max(position, bisect_right(names, after))
        entries: list[Any] = []
        last: str | None = None
        while position < len(names) and len(entries) <= max_keys:
            name = names[position]
            if not name.startswith(prefix):
                break
            rest = name[len(prefix) :]
            if delimiter and delimiter in rest:
                folder = prefix + rest.split(delimiter)[0] + delimiter
                position = bisect_left(names, _upper_bound(folder), lo=position)
                if after is None or folder > after:
                    entries.append(folder)
                continue
            position += 1
            versions = store.getlist(name, [])
            if versions and not isinstance(versions[-1], FakeDeleteMarker):
                entries.append(versions[-1])
    truncated = len(entries) > max_keys
    entries = entries[:max_keys]
    if truncated and entries:
        item = entries[-1]
        last = item if isinstance(item, str) else item.name
    return entries, truncated, last


def _list_objects_v2(
    self: Any,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> tuple[list[Any], bool, str | None]:
    from moto.s3.models import FakeTableStorageBucket
    from moto.utilities.utils import md5_hash

    if isinstance(bucket, FakeTableStorageBucket):  # moto's own answer (MethodNotAllowed)
        return _ORIGINAL["list_objects_v2"](
            self, bucket, prefix, delimiter, continuation_token, start_after, max_keys
        )
    after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
    if max_keys == 0:
        return [], False, None
    entries, truncated, last = page(
        bucket.keys, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
    )
    token = None
    if truncated and last is not None:
        token = md5_hash(last.encode("utf-8")).hexdigest()
        self._pagination_tokens[token] = last
    return entries, truncated, token


def apply() -> None:
    """Install the index into moto's S3 (idempotent)."""
    if _ORIGINAL:
        return
    from moto.s3.models import S3Backend
    from moto.s3.utils import _VersionedKeyStore

    for name in ("__setitem__", "setlist", "pop"):
        _ORIGINAL[name] = getattr(_VersionedKeyStore, name)
    _ORIGINAL["list_objects_v2"] = S3Backend.list_objects_v2
    _VersionedKeyStore.__setitem__ = _tracked("__setitem__", NameIndex.add)  # type: ignore[method-assign]
    _VersionedKeyStore.setlist = _tracked("setlist", NameIndex.add)  # type: ignore[method-assign]
    _VersionedKeyStore.pop = _tracked("pop", NameIndex.remove)  # type: ignore[method-assign]
    S3Backend.list_objects_v2 = _list_objects_v2  # type: ignore[method-assign,assignment]


def restore() -> None:
    """Put moto's own pieces back (tests compare against them)."""
    if not _ORIGINAL:
        return
    from moto.s3.models import S3Backend
    from moto.s3.utils import _VersionedKeyStore

    for name in ("__setitem__", "setlist", "pop"):
        setattr(_VersionedKeyStore, name, _ORIGINAL[name])
    S3Backend.list_objects_v2 = _ORIGINAL["list_objects_v2"]  # type: ignore[method-assign]
    _ORIGINAL.clear()
