"""Evidence of a suggestion: one `RuleEvidence` record per rule that is firing.

Built only when a suggestion is emitted, never on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.core.breaker_config import BreakerConfig

__all__ = ["reasons"]

_MICROS = 1_000_000
# cost_to_trade value when the book cannot fill the notional at all: 100 % of mid
_UNFILLABLE_BPS = 1e4


def _held(onset: int | None, t: int) -> float:
    return 0.0 if onset is None else (t - onset) / _MICROS


def _reason(rule: str, value: float, threshold: float, detail: str) -> dict[str, Any]:
    return {"rule": rule, "value": float(value), "threshold": float(threshold), "detail": detail}


def reasons(
    config: BreakerConfig,
    levels: Sequence[int],
    values: Sequence[float | None],
    onsets: Sequence[int | None],
    reference: float | None,
    band_fraction: float,
    record: Mapping[str, Any],
    t: int,
) -> list[dict[str, Any]]:
    """Return the evidence of every rule at level >= 1, in the fixed rule order."""
    out: list[dict[str, Any]] = []
    imbalance, spread_z, drop, cost, deviation, move = values
    if levels[0]:
        threshold = config.imbalance_severe if levels[0] >= 2 else config.imbalance_threshold
        out.append(_reason(
            "persistent_imbalance", imbalance or 0.0, threshold,
            f"|depth imbalance over 10 levels| {abs(imbalance or 0.0):.3f} >= {threshold} for "
            f"{_held(onsets[0], t):.1f} s, ofi_10s {record['ofi_10s']:.6g} of the same sign",
        ))  # fmt: skip
    if levels[1]:
        threshold = config.spread_z_throttle if levels[1] >= 2 else config.spread_z_watch
        out.append(_reason(
            "abnormal_spread", spread_z or 0.0, threshold,
            f"spread {record['spread_bps']:.2f} bps, EWMA z-score of log spread "
            f"{spread_z or 0.0:.2f} >= {threshold} for {_held(onsets[1], t):.1f} s",
        ))  # fmt: skip
    if levels[2]:
        out.append(_depth_reason(config, levels[2], drop or 0.0, record))
    if levels[3]:
        threshold = config.cost_throttle_bps if levels[3] >= 2 else config.cost_watch_bps
        detail = (
            "the book can no longer fill the notional on one side"
            if cost is None
            else f"worst side costs {cost:.1f} bps >= {threshold} bps and >= "
            f"{config.cost_ratio:g}x its own EWMA"
        )
        out.append(
            _reason("cost_to_trade", _UNFILLABLE_BPS if cost is None else cost, threshold, detail)
        )
    if levels[4]:
        held = _held(onsets[4], t)
        state = "pause suggested" if levels[4] >= 3 else "limit state"
        out.append(_reason(
            "price_band", 100.0 * (deviation or 0.0), 100.0 * band_fraction,
            f"{state}: mid {record['mid']:.8g} is {100.0 * (deviation or 0.0):+.2f} % from the "
            f"5-minute mean {reference or 0.0:.8g} (band {100.0 * band_fraction:g} %) for "
            f"{held:.1f} s",
        ))  # fmt: skip
    if levels[5]:
        threshold = config.velocity_throttle_bps if levels[5] >= 2 else config.velocity_watch_bps
        out.append(_reason(
            "velocity", move or 0.0, threshold,
            f"mid moved {move or 0.0:.1f} bps within {config.velocity_window_s:g} s",
        ))  # fmt: skip
    return out


def _depth_reason(
    config: BreakerConfig, level: int, drop: float, record: Mapping[str, Any]
) -> dict[str, Any]:
    band = config.depth_band_bps
    if drop >= config.depth_drop_watch:
        threshold = config.depth_drop_throttle if level >= 2 else config.depth_drop_watch
        return _reason(
            "depth_depletion", drop, threshold,
            f"depth within {band} bps fell {100.0 * drop:.0f} % below its "
            f"{config.baseline_halflife_s:g} s EWMA on the thinner side",
        )  # fmt: skip
    z = record["depth_z"]
    return _reason(
        "depth_depletion", z, config.depth_z_watch,
        f"EWMA z-score of log depth within 25 bps is {z:.2f}",
    )  # fmt: skip
