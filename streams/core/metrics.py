"""Liquidity-imbalance metrics of one book at one event, with the per-instrument state they need.

Definitions and sources: docs/metrics.md. Every metric is computed from the book as it stands
after a whole venue packet, and from the event time of that packet; nothing reads a clock, so a
replay of the same input reproduces every float bit for bit.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from typing import Any

from streams.core.book import Book
from streams.core.config import DEPTH_BANDS_BPS, MetricsConfig

__all__ = ["Ewma", "MetricState", "compute_imbalance"]

_INF = math.inf
_OFI_WINDOWS_US = (1_000_000, 10_000_000)


class Ewma:
    """Event-time exponentially weighted mean and variance (weight halves every half-life).

    The z-score of a value is taken against the statistics *before* the value joins them, so a
    sudden jump shows at full size on the record where it happens.
    """

    __slots__ = ("last_time", "mean", "samples", "var")

    def __init__(self) -> None:
        self.mean = 0.0
        self.var = 0.0
        self.samples = 0
        self.last_time = 0

    def update(self, value: float, time_us: int, decay_per_us: float, min_samples: int) -> float | None:
        if self.samples == 0:
            self.mean, self.var, self.samples, self.last_time = value, 0.0, 1, time_us
            return None
        diff = value - self.mean
        z = diff / math.sqrt(self.var) if self.samples >= min_samples and self.var > 0.0 else None
        elapsed = time_us - self.last_time
        if elapsed > 0:
            alpha = 1.0 - math.exp(-decay_per_us * elapsed)
            increment = alpha * diff
            self.mean += increment
            self.var = (1.0 - alpha) * (self.var + diff * increment)
            self.last_time = time_us
        self.samples += 1
        return z

    def snapshot(self) -> list[float | int]:
        return [self.mean, self.var, self.samples, self.last_time]

    @classmethod
    def restore(cls, state: list[Any]) -> Ewma:
        ewma = cls()
        ewma.mean, ewma.var = float(state[0]), float(state[1])
        ewma.samples, ewma.last_time = int(state[2]), int(state[3])
        return ewma


class MetricState:
    """What the metrics of an instrument remember between records.

    `previous` holds the top `mlofi_levels` prices and sizes of the previous record (for OFI and
    multi-level OFI); it is cleared when the book resets, so OFI is null on the next record.
    The OFI windows keep (event_time, ofi) pairs with running sums.
    """

    __slots__ = ("depth_ewma", "ofi_sums", "ofi_windows", "previous", "spread_ewma")

    def __init__(self) -> None:
        self.previous: tuple[list[float], list[float], list[float], list[float]] | None = None
        self.ofi_windows: tuple[deque[tuple[int, float]], ...] = tuple(deque() for _ in _OFI_WINDOWS_US)
        self.ofi_sums = [0.0] * len(_OFI_WINDOWS_US)
        self.spread_ewma = Ewma()
        self.depth_ewma = Ewma()

    def on_book_reset(self) -> None:
        self.previous = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "previous": None if self.previous is None else [list(x) for x in self.previous],
            "ofi_windows": [[list(pair) for pair in window] for window in self.ofi_windows],
            "ofi_sums": list(self.ofi_sums),
            "spread_ewma": self.spread_ewma.snapshot(),
            "depth_ewma": self.depth_ewma.snapshot(),
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> MetricState:
        metrics = cls()
        previous = state["previous"]
        if previous is not None:
            bp, bq, ap, aq = ([float(v) for v in side] for side in previous)
            metrics.previous = (bp, bq, ap, aq)
        metrics.ofi_windows = tuple(
            deque((int(t), float(v)) for t, v in window) for window in state["ofi_windows"]
        )
        metrics.ofi_sums = [float(v) for v in state["ofi_sums"]]
        metrics.spread_ewma = Ewma.restore(state["spread_ewma"])
        metrics.depth_ewma = Ewma.restore(state["depth_ewma"])
        return metrics


def _padded(values: list[float], length: int, fill: float) -> list[float]:
    missing = length - len(values)
    return values + [fill] * missing if missing > 0 else values


def _band_depths(
    keys: list[float], notionals: list[float], count: int, bounds: list[float]
) -> list[float]:
    """Depth (quote notional) inside each band, one C-speed pass over the levels inside the widest.

    `keys` ascending as stored (bids negated); a level is inside a band when its key <= bound.
    """
    depths = []
    total = 0.0
    start = 0
    for bound in bounds:
        end = bisect_right(keys, bound, start, count)
        if end > start:
            total += sum(notionals[start:end])
        depths.append(total)
        start = end
    return depths


def _slippage_bps(
    keys: list[float], sizes: list[float], notionals: list[float], count: int, target: float,
    mid: float,
) -> float | None:  # fmt: skip
    """Cost in bps of filling `target` quote notional along one side, or None if too thin.

    Walks level by level from the best price and stops as soon as the order is filled, which is
    a handful of levels in any book a circuit breaker should care about.
    """
    filled = quantity = 0.0
    for i in range(count):
        notional = notionals[i]
        if filled + notional >= target:
            vwap = target / (quantity + (target - filled) / abs(keys[i]))
            return abs(1e4 * (vwap - mid) / mid)
        filled += notional
        quantity += sizes[i]
    return None


def compute_imbalance(
    book: Book,
    state: MetricState,
    config: MetricsConfig,
    event_time: int,
) -> dict[str, Any] | None:
    """The metric fields of one record (schema order, identity fields excluded), or None.

    None when the book is invalid or one side is empty: no record is emitted then.
    Updates `state` (OFI memory, windows, EWMAs) only when it returns a record.
    """
    bk, bs, ak, asz = book.bids.keys, book.bids.sizes, book.asks.keys, book.asks.sizes
    if not (book.valid and bk and ak):
        return None
    pb, qb, pa, qa = -bk[0], bs[0], ak[0], asz[0]
    mid = (pb + pa) * 0.5
    spread_bps = 1e4 * (pa - pb) / mid
    sb5, sa5 = sum(bs[:5]), sum(asz[:5])
    sb10, sa10 = sum(bs[:10]), sum(asz[:10])

    levels = config.mlofi_levels
    top = (
        _padded([-k for k in bk[:levels]], levels, 0.0),
        _padded(bs[:levels], levels, 0.0),
        _padded(ak[:levels], levels, _INF),
        _padded(asz[:levels], levels, 0.0),
    )
    previous = state.previous
    if previous is None:
        mlofi: list[float] | None = None
        ofi: float | None = None
    else:
        mlofi = [
            (bq if bp >= pbp else 0.0)
            - (pbq if bp <= pbp else 0.0)
            - (aq if ap <= pap else 0.0)
            + (paq if ap >= pap else 0.0)
            for bp, bq, ap, aq, pbp, pbq, pap, paq in zip(*top, *previous, strict=True)
        ]
        ofi = mlofi[0]
    state.previous = top

    window_sums = state.ofi_sums
    flow = ofi if ofi is not None else 0.0
    for w, (length, window) in enumerate(zip(_OFI_WINDOWS_US, state.ofi_windows, strict=True)):
        window.append((event_time, flow))
        total = window_sums[w] + flow
        horizon = event_time - length
        while window[0][0] <= horizon:
            total -= window.popleft()[1]
        window_sums[w] = total if len(window) > 1 else window[0][1]  # re-anchor: no drift

    scan = config.scan_levels
    bid_count, ask_count = min(scan, len(bk)), min(scan, len(ak))
    bid_bounds = [-mid * (1.0 - b * 1e-4) for b in DEPTH_BANDS_BPS]
    ask_bounds = [mid * (1.0 + b * 1e-4) for b in DEPTH_BANDS_BPS]
    bn, an = book.bids.notionals, book.asks.notionals
    bid_depths = _band_depths(bk, bn, bid_count, bid_bounds)
    ask_depths = _band_depths(ak, an, ask_count, ask_bounds)
    cost = [
        {
            "notional": target,
            "buy_bps": _slippage_bps(ak, asz, an, ask_count, target, mid),
            "sell_bps": _slippage_bps(bk, bs, bn, bid_count, target, mid),
        }
        for target in config.cost_notionals
    ]

    decay = math.log(2.0) / (config.ewma_half_life_s * 1e6)
    spread_z = state.spread_ewma.update(
        math.log(spread_bps), event_time, decay, config.z_min_samples
    )
    band = DEPTH_BANDS_BPS.index(config.depth_z_band_bps)
    depth_total = bid_depths[band] + ask_depths[band]
    depth_z = (
        state.depth_ewma.update(math.log(depth_total), event_time, decay, config.z_min_samples)
        if depth_total > 0.0
        else None
    )
    return {
        "best_bid": pb,
        "best_bid_size": qb,
        "best_ask": pa,
        "best_ask_size": qa,
        "mid": mid,
        "spread_bps": spread_bps,
        "weighted_mid": (qb * pa + qa * pb) / (qb + qa),
        "queue_imbalance": (qb - qa) / (qb + qa),
        "depth_imbalance_5": (sb5 - sa5) / (sb5 + sa5),
        "depth_imbalance_10": (sb10 - sa10) / (sb10 + sa10),
        "ofi": ofi,
        "mlofi": mlofi,
        "ofi_1s": window_sums[0],
        "ofi_10s": window_sums[1],
        "depth_bid_10bps": bid_depths[0],
        "depth_ask_10bps": ask_depths[0],
        "depth_bid_25bps": bid_depths[1],
        "depth_ask_25bps": ask_depths[1],
        "depth_bid_50bps": bid_depths[2],
        "depth_ask_50bps": ask_depths[2],
        "depth_bid_100bps": bid_depths[3],
        "depth_ask_100bps": ask_depths[3],
        "cost_to_trade": cost,
        "spread_z": spread_z,
        "depth_z": depth_z,
        "bid_levels": len(bk),
        "ask_levels": len(ak),
    }
