"""Errors of the venue parsers."""

from streams.exceptions import StreamsError

__all__ = ["ParseError", "UnknownVenueError", "VenueError"]


class VenueError(StreamsError):
    """Base of every error raised while reading a venue's messages."""


class ParseError(VenueError, ValueError):
    """A venue frame could not be turned into valid deltas (malformed, oversized, bad numbers).

    The caller counts it and routes the frame to the dead-letter topic; the reader keeps going.
    """


class UnknownVenueError(VenueError, KeyError):
    """No parser is registered under that venue name."""
