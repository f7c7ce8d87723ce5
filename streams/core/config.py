"""Typed, frozen parameters of the core, with the stable hash stamped on every output.

The hash lets an audit say which parameters produced a record: two runs agree bit for bit only
when their configs hash the same.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from streams.core.exceptions import MetricsConfigError

__all__ = ["DEPTH_BANDS_BPS", "MetricsConfig", "canonical_hash", "config_hash"]

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
        at_least = {"max_levels": 10, "scan_levels": 10, "mlofi_levels": 1, "z_min_samples": 2}
        for name, low in at_least.items():
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise MetricsConfigError(
                    f"MetricsConfig.{name} must be an integer >= {low}, got {value!r}"
                )
        if not _positive(self.ewma_half_life_s):
            raise MetricsConfigError(
                f"MetricsConfig.ewma_half_life_s must be a finite number > 0, "
                f"got {self.ewma_half_life_s!r}"
            )
        if self.depth_z_band_bps not in DEPTH_BANDS_BPS:
            raise MetricsConfigError(
                f"MetricsConfig.depth_z_band_bps must be one of {DEPTH_BANDS_BPS}, "
                f"got {self.depth_z_band_bps!r}"
            )
        if not self.cost_notionals or not all(_positive(n) for n in self.cost_notionals):
            raise MetricsConfigError(
                f"MetricsConfig.cost_notionals must be finite numbers > 0, "
                f"got {self.cost_notionals!r}"
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def canonical_hash(value: Any) -> str:
    """Stable short hash of JSON-compatible values (canonical JSON, SHA-256, 16 hex digits).

    Stable across processes and machines, so an audit can match a record to its configuration.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_hash(*parts: dict[str, Any]) -> str:
    """The hash of several configuration dicts together (the pipeline's metrics and breaker)."""
    return canonical_hash(parts)
