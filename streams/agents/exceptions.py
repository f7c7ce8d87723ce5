"""Errors of the stream workers."""

from streams.exceptions import StreamsError

__all__ = ["CheckpointError", "ComputeProcessError", "WorkerError"]


class WorkerError(StreamsError):
    """A stream worker cannot continue."""


class CheckpointError(WorkerError):
    """A stored checkpoint cannot be read back."""


class ComputeProcessError(WorkerError):
    """The worker's compute process died or could not start: its state is gone with it."""
