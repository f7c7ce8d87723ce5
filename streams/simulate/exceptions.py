"""Errors of the market simulator."""

from streams.exceptions import StreamsError

__all__ = ["UnknownScenarioError"]


class UnknownScenarioError(StreamsError, ValueError):
    """No scenario has the requested name."""
