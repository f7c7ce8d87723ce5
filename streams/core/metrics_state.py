"""What the imbalance metrics of one instrument remember between records.

The OFI memory and windows and the z-score EWMAs are checkpointed (`snapshot`, `restore`); the
reuse cache is derived from the book and never is.
"""

from __future__ import annotations

import math
from typing import Any

from streams.core.book import UNCHANGED
from streams.core.config import DEPTH_BANDS_BPS, MetricsConfig

__all__ = ["OFI_WINDOWS_US", "Ewma", "MetricState", "RecordCache"]

#: the event-time windows of `ofi_1s` and `ofi_10s`, shortest first
OFI_WINDOWS_US = (1_000_000, 10_000_000)


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

    def update(
        self, value: float, time_us: int, decay_per_us: float, min_samples: int
    ) -> float | None:
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


class RecordCache:
    """Values of the previous record that the next one reuses when their inputs did not change.

    Each `*_end` is the last level index a cached value depends on: the value is reused while
    the book side's `changed_from` is above it and the mid is the same.
    """

    __slots__ = (
        "ask_band_end", "ask_depths", "ask_top", "bid_band_end", "bid_depths", "bid_top", "buy",
        "buy_end", "config", "decay_per_us", "depth_band", "mid", "sell", "sell_end",
    )  # fmt: skip

    def __init__(self, config: MetricsConfig) -> None:
        self.config = config
        self.decay_per_us = math.log(2.0) / (config.ewma_half_life_s * 1e6)
        self.depth_band = DEPTH_BANDS_BPS.index(config.depth_z_band_bps)
        self.mid = math.nan  # never equal: the first record computes everything
        self.bid_top = self.ask_top = (0.0, 0.0)
        self.bid_depths: list[float] = []
        self.ask_depths: list[float] = []
        self.buy: list[float | None] = []
        self.sell: list[float | None] = []
        self.bid_band_end = self.ask_band_end = self.buy_end = self.sell_end = UNCHANGED


class MetricState:
    """What the metrics of an instrument remember between records.

    `previous` holds the top `mlofi_levels` prices and sizes of the previous record (for OFI and
    multi-level OFI); it is cleared when the book resets, so OFI is null on the next record.
    The OFI windows keep (event_time, ofi) pairs with running sums, in one pair of lists: every
    record joins every window and a shorter window drops at least what a longer one drops, so each
    window is a suffix of the longest, starting at its index in `flow_heads`.
    """

    __slots__ = (
        "cache", "depth_ewma", "flow_heads", "flow_times", "flow_values", "ofi_sums", "previous",
        "spread_ewma",
    )  # fmt: skip

    def __init__(self) -> None:
        self.previous: tuple[list[float], list[float], list[float], list[float]] | None = None
        self.flow_times: list[int] = []
        self.flow_values: list[float] = []
        self.flow_heads = [0] * len(OFI_WINDOWS_US)
        self.ofi_sums = [0.0] * len(OFI_WINDOWS_US)
        self.spread_ewma = Ewma()
        self.depth_ewma = Ewma()
        self.cache: RecordCache | None = None  # derived from the book: never checkpointed

    def on_book_reset(self) -> None:
        self.previous = None
        self.cache = None

    def snapshot(self) -> dict[str, Any]:
        times, values = self.flow_times, self.flow_values
        return {
            "previous": None if self.previous is None else [list(x) for x in self.previous],
            "ofi_windows": [
                [[t, v] for t, v in zip(times[head:], values[head:], strict=True)]
                for head in self.flow_heads
            ],
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
        windows = [[(int(t), float(v)) for t, v in window] for window in state["ofi_windows"]]
        longest = windows[-1]
        if len(windows) != len(OFI_WINDOWS_US) or any(
            window != longest[len(longest) - len(window) :] for window in windows
        ):
            raise ValueError("OFI windows: each must end the longest one")
        metrics.flow_times = [t for t, _ in longest]
        metrics.flow_values = [v for _, v in longest]
        metrics.flow_heads = [len(longest) - len(window) for window in windows]
        metrics.ofi_sums = [float(v) for v in state["ofi_sums"]]
        metrics.spread_ewma = Ewma.restore(state["spread_ewma"])
        metrics.depth_ewma = Ewma.restore(state["depth_ewma"])
        return metrics
