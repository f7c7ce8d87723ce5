"""Errors of the live view."""

from __future__ import annotations

from streams.exceptions import StreamsError

__all__ = ["DashboardConfigurationError", "DashboardError"]


class DashboardError(StreamsError):
    """The live view could not do what it was asked."""


class DashboardConfigurationError(DashboardError, ValueError):
    """A live-view option is out of range."""
