"""Errors of the stream workers."""

from streams.exceptions import StreamsError

__all__ = ["CheckpointError", "ComputeProcessError", "WorkerConfigError", "WorkerError"]


class WorkerError(StreamsError):
    """A stream worker cannot continue."""


class WorkerConfigError(WorkerError, ValueError):
    """A worker option is out of range."""


class CheckpointError(WorkerError):
    """A stored checkpoint cannot be read back."""


class ComputeProcessError(WorkerError):
    """The worker's compute process died or could not start: its state is gone with it."""
