"""Errors of the connector layer."""

from streams.exceptions import StreamsError

__all__ = ["ConnectorError", "ParseError", "UnknownVenueError"]


class ConnectorError(StreamsError):
    """Base of every error raised by a venue connector."""


class ParseError(ConnectorError, ValueError):
    """A venue frame could not be turned into valid deltas (malformed, oversized, bad numbers).

    The caller counts it and routes the frame to the dead-letter topic; the reader keeps going.
    """


class UnknownVenueError(ConnectorError, KeyError):
    """No parser is registered under that venue name."""
