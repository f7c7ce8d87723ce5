"""Errors raised by the pure core when an input violates its contract."""

from streams.exceptions import StreamsError

__all__ = ["InvalidDeltaError"]


class InvalidDeltaError(StreamsError, ValueError):
    """A book delta breaks an invariant (NaN, negative size, mismatched arrays, ...)."""
