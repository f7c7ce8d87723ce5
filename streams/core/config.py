"""Typed, frozen parameters of the core, with the stable hash stamped on every output.

The hash lets an audit say which parameters produced a record: two runs agree bit for bit only
when their configs hash the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DEPTH_BANDS_BPS", "MetricsConfig", "config_hash"]

# Fixed by the imbalance schema (one field per band and side).
DEPTH_BANDS_BPS: tuple[int, ...] = (10, 25, 50, 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """Parameters of the book and the imbalance metrics.

    `max_levels` bounds memory per side (deeper levels are dropped, so a venue that later deletes
    a top level may reveal a level the book no longer knows; keep it above the venue's feed depth).
    `scan_levels` bounds the walk of depth bands and cost-to-trade per record: it is the one
    per-record cost that grows with book depth, and a metric that would need deeper levels is
    computed on what the scan saw (cost-to-trade becomes null).
    """

    max_levels: int = 1000
    scan_levels: int = 400
    mlofi_levels: int = 10
    cost_notionals: tuple[float, ...] = (10_000.0, 100_000.0)
    ewma_half_life_s: float = 60.0
    z_min_samples: int = 50
    depth_z_band_bps: int = 25

    def __post_init__(self) -> None:
        if self.max_levels < 10 or self.scan_levels < 10 or self.mlofi_levels < 1:
            raise ValueError("max_levels and scan_levels must be >= 10, mlofi_levels >= 1")
        if self.ewma_half_life_s <= 0 or self.z_min_samples < 2:
            raise ValueError("ewma_half_life_s must be > 0 and z_min_samples >= 2")
        if self.depth_z_band_bps not in DEPTH_BANDS_BPS:
            raise ValueError(f"depth_z_band_bps must be one of {DEPTH_BANDS_BPS}")
        if not self.cost_notionals or any(n <= 0 for n in self.cost_notionals):
            raise ValueError("cost_notionals must be positive")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def config_hash(*parts: dict[str, Any]) -> str:
    """Stable short hash of configuration dicts (canonical JSON, SHA-256, 16 hex digits)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
