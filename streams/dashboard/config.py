"""Options of the live view: where it listens, how much it keeps, how often it pushes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from streams.dashboard.exceptions import DashboardConfigurationError

__all__ = ["DashboardConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DashboardConfig:
    """Bounds that keep the server's memory and the browser's work fixed whatever the input rate.

    Each instrument keeps at most `window_points` points, one per `resolution_ms` of event time
    (the latest record of a bucket wins: 3000 x 100 ms = the last 5 minutes). Every
    `push_interval_s` the server sends one event with the instruments that changed, each with only
    its new points, so a browser gets at most 1 / push_interval_s updates per instrument however
    many records per second arrive.
    """

    host: str = "127.0.0.1"
    port: int = 8050
    push_interval_s: float = 0.25
    resolution_ms: int = 100
    window_points: int = 3000
    max_instruments: int = 500
    suggestion_log: int = 500
    backfill: int = 5000
    client_queue: int = 32

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise DashboardConfigurationError(f"port {self.port} is not in 0..65535")
        if not 0.01 <= self.push_interval_s <= 60:
            raise DashboardConfigurationError(
                f"push interval {self.push_interval_s} s is not in 0.01..60 s"
            )
        positive = {
            "resolution_ms": self.resolution_ms,
            "window_points": self.window_points,
            "max_instruments": self.max_instruments,
            "suggestion_log": self.suggestion_log,
            "client_queue": self.client_queue,
        }
        for name, value in positive.items():
            if value < 1:
                raise DashboardConfigurationError(f"{name} must be at least 1, got {value}")
        if self.backfill < 0:
            raise DashboardConfigurationError(f"backfill must be >= 0, got {self.backfill}")

    def for_browser(self) -> dict[str, Any]:
        """The bounds the page applies to its own copy of the data."""
        values = asdict(self)
        return {k: values[k] for k in ("push_interval_s", "resolution_ms", "window_points",
                                       "max_instruments", "suggestion_log")}  # fmt: skip
