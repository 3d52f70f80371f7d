"""Read a request body whole, or refuse it: the size limit holds for chunked bodies too.

A body with ``Content-Length`` is refused before any of it is read when the length is over the
limit, and must then arrive complete. A chunked body (``Transfer-Encoding: chunked``: no
length; the server marks ``wsgi.input_terminated``) is read to its end but never past the limit:
one byte more and it is refused, so a large request is never cut down to the limit and scored
as if that were all of it. A body that ends early, breaks its chunk framing or stalls past the
server's socket timeout is refused too (:class:`IncompleteBody`; :class:`BodyTimeout` for the
stall).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ml_model.errors import BodyTimeout, BodyTooLarge, IncompleteBody

READ_SIZE = 64 * 1024


class _Stream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def content_length(environ: Mapping[str, Any]) -> int | None:
    """The declared length, ``None`` when there is none; a malformed one is refused."""
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise IncompleteBody("Content-Length is not a number")
    return int(text)


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The whole body of a WSGI request, at most ``limit`` bytes."""
    stream: _Stream = environ["wsgi.input"]
    declared = content_length(environ)
    if declared is not None:
        if declared > limit:
            raise BodyTooLarge(f"payload of {declared:,} bytes is over the {limit:,} byte limit")
        return _read(stream, declared, exact=True)
    if environ.get("wsgi.input_terminated"):
        body = _read(stream, limit + 1, exact=False)
        if len(body) > limit:
            raise BodyTooLarge(f"chunked payload is over the {limit:,} byte limit")
        return body
    return b""  # no length and no end marker: PEP 3333 says there is no body to read


def _read(stream: _Stream, most: int, *, exact: bool) -> bytes:
    """Up to ``most`` bytes until the stream ends; with ``exact``, exactly ``most`` bytes."""
    parts: list[bytes] = []
    got = 0
    try:
        while got < most:
            part = stream.read(min(READ_SIZE, most - got))
            if not part:
                break
            parts.append(part)
            got += len(part)
    except (BlockingIOError, TimeoutError) as error:  # the socket's read timeout (server.py)
        raise BodyTimeout(f"the request body stalled after {got:,} bytes") from error
    except (OSError, ValueError) as error:  # a reset, broken chunk framing
        reason = type(error).__name__
        raise IncompleteBody(f"the request body could not be read ({reason})") from error
    if exact and got < most:
        raise IncompleteBody(f"the body ended after {got:,} of {most:,} bytes")
    return b"".join(parts)
