"""The dead-letter policy: which failures send a record to the dead-letter topic, and its headers.

A malformed record must not stop a process: the worker, the sinks, the connectors and the
publisher put it on the dead-letter topic with a `reason` header (and where it came from, to find
it again) and go on. Replays and benches skip the same records, so they must agree on what the
worker rejects: `REJECTED` is that decision, `headers` the wire format, both written once here.
"""

from __future__ import annotations

from streams.codec import CodecError
from streams.core.exceptions import InvalidDeltaError

__all__ = ["MAX_REASON_BYTES", "REJECTED", "Headers", "headers", "reason", "record_headers"]

Headers = list[tuple[str, bytes]]

REJECTED: tuple[type[Exception], ...] = (CodecError, InvalidDeltaError)
"""Failures that dead-letter the record (undecodable, invalid or unstorable); any other is a bug."""

MAX_REASON_BYTES = 1024  # a reason quoting a huge field must not make the dead letter huge


def reason(error: Exception) -> str:
    """The `reason` of a rejected record: the failure's type and message."""
    return f"{type(error).__name__}: {error}"


def headers(
    why: str,
    *,
    source: str | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Headers:
    """Dead-letter headers: `reason`, then `source` (who rejected it) and `source.topic`,
    `source.partition`, `source.offset` (where it was read), each only when known."""
    found: Headers = [("reason", why.encode()[:MAX_REASON_BYTES])]
    for name, value in (
        ("source", source),
        ("source.topic", topic),
        ("source.partition", partition),
        ("source.offset", offset),
    ):
        if value is not None:
            found.append((name, str(value).encode()))
    return found


def record_headers(error: Exception, topic: str, partition: int, offset: int) -> Headers:
    """Headers of a consumed record that failed: why, and its coordinates in the input topic."""
    return headers(reason(error), topic=topic, partition=partition, offset=offset)
