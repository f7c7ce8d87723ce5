"""What a connector is told (`ConnectorConfig`), what it counts, where its output goes, and how
long it waits before trying again (`backoff_delay`)."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Protocol

from streams.connectors.exceptions import ConnectorError
from streams.core.types import BookDelta
from streams.venues.registry import get_venue

__all__ = [
    "ConnectorConfig",
    "ConnectorCounters",
    "DeltaSink",
    "FrameRejects",
    "backoff_delay",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorConfig:
    """What to connect to; validated when built. Symbols are spelled as the venue spells them."""

    venue: str
    symbols: tuple[str, ...]
    topic: str | None = None  # default: the settings' book-deltas topic
    url_override: str | None = None  # websocket URL instead of the venue's (a token's query kept)
    rest_override: str | None = None  # scheme://host:port replacing the venue's REST host
    stale_after_s: float = 30.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    connect_timeout_s: float = 10.0
    snapshot_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        get_venue(self.venue)  # UnknownVenueError names the known venues
        if not self.symbols or any(not symbol.strip() for symbol in self.symbols):
            raise ConnectorError(f"{self.venue}: give at least one symbol, none empty")
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.endswith("_s") and not value > 0:
                raise ConnectorError(f"{item.name} must be > 0, got {value}")


@dataclass(slots=True)
class ConnectorCounters:
    """Totals over every connection of one connector (also exported as Prometheus counters)."""

    messages: int = 0
    published: int = 0
    snapshots_published: int = 0
    parse_errors: int = 0
    gaps: int = 0
    connection_gaps: int = 0
    checksum_failures: int = 0
    checksums_verified: int = 0
    resyncs: int = 0
    reconnects: int = 0
    stale_connections: int = 0
    snapshot_requests: int = 0
    snapshot_failures: int = 0
    replies: int = 0  # heartbeat answers the venue asked for
    pings: int = 0  # client pings the venue asked for


class DeltaSink(Protocol):
    """Where deltas go: `streams.transport.DeltaPublisher` in production."""

    def publish(self, delta: BookDelta) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


class FrameRejects(Protocol):
    """Where unparseable frames go, with the reason."""

    def reject(self, frame: str | bytes, reason: str) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


def backoff_delay(attempt: int, initial_s: float, maximum_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(maximum, initial * 2**attempt)]."""
    ceiling = min(maximum_s, initial_s * (2 ** min(attempt, 32)))
    return rng.uniform(0.0, ceiling)
