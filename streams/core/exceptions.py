"""Errors raised by the pure core when an input violates its contract."""

from streams.exceptions import StreamsError

__all__ = [
    "BreakerConfigError",
    "BreakerInputError",
    "ConfigFileError",
    "InvalidDeltaError",
    "MetricsConfigError",
]


class InvalidDeltaError(StreamsError, ValueError):
    """A book delta breaks an invariant (NaN, negative size, mismatched arrays, ...)."""


class MetricsConfigError(StreamsError, ValueError):
    """A parameter of the book or the imbalance metrics is out of range."""


class BreakerConfigError(StreamsError, ValueError):
    """A circuit-breaker threshold is missing, unknown, out of range or inconsistent."""


class BreakerInputError(StreamsError, ValueError):
    """An imbalance record given to the breaker lacks a field or carries a non-finite price."""


class ConfigFileError(StreamsError, ValueError):
    """A configuration document has an unknown key or a bad value; the message starts with its
    key path (`breaker.imbalance_threshold: ...`)."""
