"""Errors of the stream workers."""

from streams.exceptions import StreamsError

__all__ = ["CheckpointError", "WorkerError"]


class WorkerError(StreamsError):
    """A stream worker cannot continue."""


class CheckpointError(WorkerError):
    """A stored checkpoint cannot be read back."""
