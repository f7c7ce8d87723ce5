"""One-shot faults: which fires at which book frame, each once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["FaultSchedule", "Faults"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """One-shot faults, each at the first suitable book frame with index >= the given one."""

    drop_at: int | None = None  # close every open connection
    remove_at: int | None = None  # withhold one update (the venue still applies it): a gap
    corrupt_checksum_at: int | None = None  # send one update with a wrong checksum
    silent_at: int | None = None  # the open connections receive nothing more, but stay open


FAULT_NAMES = {
    "drop": "drop_at",
    "remove": "remove_at",
    "corrupt": "corrupt_checksum_at",
    "silence": "silent_at",
}


@dataclass(slots=True)
class FaultSchedule:
    """Fires each configured fault once, at the first suitable frame at or after its index."""

    faults: Faults
    fired: dict[str, str] = field(default_factory=dict)  # fault -> the instrument it hit
    fired_at: dict[str, int] = field(default_factory=dict)  # fault -> when (epoch µs, wall clock)

    def due(self, name: str, position: int) -> bool:
        at: int | None = getattr(self.faults, FAULT_NAMES[name])
        return at is not None and position >= at and name not in self.fired

    def fire(self, name: str, symbol: str) -> None:
        self.fired[name] = symbol
        self.fired_at[name] = time.time_ns() // 1_000  # the clock of the connector's receive times
