"""Errors of the connector layer (the socket-holding session)."""

from streams.exceptions import StreamsError

__all__ = ["ConnectorError"]


class ConnectorError(StreamsError):
    """Base of every error raised by a venue connector's session."""
