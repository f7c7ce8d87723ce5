"""Errors of the sinks."""

from __future__ import annotations

from streams.exceptions import StreamsError

__all__ = ["SinkConfigurationError", "SinkError", "SinkUnavailableError"]


class SinkError(StreamsError):
    """A sink could not do what it was asked."""


class SinkConfigurationError(SinkError):
    """The sink's target (directory, DSN) is missing or unusable."""


class SinkUnavailableError(SinkError):
    """The target is down or slow right now; the batch was not written and may be retried.

    The runner answers it with backpressure: it pauses the partitions, waits with backoff and
    writes the same batch again. Offsets of an unwritten batch are never committed.
    """
