"""Cost to trade: the slippage in bps of filling each configured quote notional along one side.

Definitions: docs/metrics.md.
"""

from __future__ import annotations

from streams.core.book import UNCHANGED

__all__ = ["slippages"]


def _slippage_bps(
    keys: list[float], sizes: list[float], notionals: list[float], count: int, target: float,
    mid: float,
) -> tuple[float | None, int]:  # fmt: skip
    """Cost in bps of filling `target` quote notional along one side, or None if too thin, and the
    last level index the result depends on.

    Walks level by level from the best price and stops as soon as the order is filled, which is
    a handful of levels in any book a circuit breaker should care about.
    """
    filled = quantity = 0.0
    for i in range(count):
        notional = notionals[i]
        if filled + notional >= target:
            vwap = target / (quantity + (target - filled) / abs(keys[i]))
            return abs(1e4 * (vwap - mid) / mid), i
        filled += notional
        quantity += sizes[i]
    return None, UNCHANGED  # depends on every level, even those past the scan


def slippages(
    keys: list[float], sizes: list[float], notionals: list[float], count: int,
    targets: tuple[float, ...], mid: float,
) -> tuple[list[float | None], int]:  # fmt: skip
    """The cost of each target, and the last level index any of them depends on."""
    costs = []
    last = 0
    for target in targets:
        cost, end = _slippage_bps(keys, sizes, notionals, count, target, mid)
        costs.append(cost)
        if end > last:
            last = end
    return costs, last
