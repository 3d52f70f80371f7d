"""Reading a request body: the limit holds for declared and chunked bodies alike."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ml_model.errors import BodyTimeout, BodyTooLarge, IncompleteBody
from ml_model.serving.body import read_body


def environ(body: bytes, *, length: str | None = None, chunked: bool = False) -> dict[str, Any]:
    env: dict[str, Any] = {"wsgi.input": io.BytesIO(body)}
    if length is not None:
        env["CONTENT_LENGTH"] = length
    if chunked:
        env["wsgi.input_terminated"] = True
    return env


def test_a_declared_body_is_read_exactly() -> None:
    assert read_body(environ(b"1,2\n3,4", length="7"), limit=10) == b"1,2\n3,4"
    # a server that does not end the stream: never read past the declared length
    assert read_body(environ(b"1,2" + b"x" * 100, length="3"), limit=10) == b"1,2"


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    env = environ(b"0" * 11, length="11")
    with pytest.raises(BodyTooLarge, match="11 bytes"):
        read_body(env, limit=10)
    assert env["wsgi.input"].tell() == 0


def test_a_chunked_body_is_read_whole_up_to_the_limit() -> None:
    assert read_body(environ(b"9" * 10, chunked=True), limit=10) == b"9" * 10


def test_a_chunked_body_one_byte_over_is_refused_not_cut() -> None:
    """The defect: a chunked body was cut at the limit and its last row scored as another
    number (900 as 9)."""
    body = b"1,900\n" * 3
    with pytest.raises(BodyTooLarge, match="chunked"):
        read_body(environ(body, chunked=True), limit=len(body) - 1)


def test_short_stalled_and_broken_bodies_are_refused() -> None:
    with pytest.raises(IncompleteBody, match="3 of 7"):
        read_body(environ(b"1,2", length="7"), limit=10)
    with pytest.raises(IncompleteBody, match="not a number"):
        read_body(environ(b"", length="seven"), limit=10)

    class Failing(io.RawIOBase):
        def __init__(self, error: Exception) -> None:
            self.error = error

        def read(self, size: int = -1) -> bytes:
            raise self.error

    stalled = Failing(BlockingIOError(11, "timed out"))
    with pytest.raises(BodyTimeout):
        read_body({"wsgi.input": stalled, "wsgi.input_terminated": True}, limit=10)
    with pytest.raises(IncompleteBody, match="OSError"):
        read_body({"wsgi.input": Failing(OSError("Invalid chunk")), "CONTENT_LENGTH": "4"}, 10)


def test_no_length_and_no_end_marker_means_no_body() -> None:
    assert read_body(environ(b"1,2"), limit=10) == b""
