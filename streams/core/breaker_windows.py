"""Event-time rolling windows of the breaker: mean price, price range, per-statistic baselines.

Each keeps one small bucket per time slice instead of one entry per record, so a record that does
not start a new slice allocates nothing, and the state stays bounded however busy the market is.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

__all__ = ["Baseline", "MeanPriceWindow", "RangeWindow"]

_MICROS = 1_000_000
_NEVER = -(2**63)


class MeanPriceWindow:
    """Mean mid over the trailing `window_s` seconds, each second weighted equally.

    A second contributes the mean of the mids seen in it, so a burst of packets cannot drag the
    reference (LULD uses the mean price of the preceding five minutes). The current, still open
    second is excluded: the reference lags the price, as a band reference should.
    """

    __slots__ = (
        "buckets",
        "current_count",
        "current_second",
        "current_sum",
        "reference",
        "rolls",
        "total",
        "window_s",
    )

    def __init__(self, window_s: int) -> None:
        self.window_s = window_s
        self.buckets: deque[tuple[int, float]] = deque()
        self.current_second = -1
        self.current_sum = 0.0
        self.current_count = 0
        self.total = 0.0
        self.rolls = 0
        self.reference: float | None = None

    def add(self, event_time: int, mid: float, min_history_s: int) -> None:
        second = event_time // _MICROS
        if second > self.current_second:
            self._roll(second, min_history_s)
        self.current_sum += mid
        self.current_count += 1

    def _roll(self, second: int, min_history_s: int) -> None:
        buckets = self.buckets
        total = self.total
        if self.current_count:
            mean = self.current_sum / self.current_count
            buckets.append((self.current_second, mean))
            total += mean
        horizon = second - self.window_s
        while buckets and buckets[0][0] <= horizon:
            total -= buckets.popleft()[1]
        self.rolls += 1
        if self.rolls >= self.window_s or not buckets:
            # bound the drift of the running sum: recompute it once per window length
            self.rolls = 0
            total = sum((mean for _, mean in buckets), 0.0)  # a float when empty, pure or compiled
        self.total = total
        self.current_second = second
        self.current_sum = 0.0
        self.current_count = 0
        if buckets and second - buckets[0][0] >= min_history_s:
            self.reference = total / len(buckets)
        else:
            self.reference = None

    def clear(self) -> None:
        self.buckets.clear()
        self.current_second = -1
        self.current_sum = 0.0
        self.current_count = 0
        self.total = 0.0
        self.rolls = 0
        self.reference = None

    def to_state(self) -> dict[str, Any]:
        return {
            "buckets": [[second, mean] for second, mean in self.buckets],
            "current_second": self.current_second,
            "current_sum": self.current_sum,
            "current_count": self.current_count,
            "total": self.total,
            "rolls": self.rolls,
            "reference": self.reference,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.buckets = deque((int(second), float(mean)) for second, mean in state["buckets"])
        self.current_second = int(state["current_second"])
        self.current_sum = float(state["current_sum"])
        self.current_count = int(state["current_count"])
        self.total = float(state["total"])
        self.rolls = int(state["rolls"])
        reference = state["reference"]
        self.reference = None if reference is None else float(reference)


class RangeWindow:
    """Lowest and highest mid over the trailing window, in `slices` buckets of event time."""

    __slots__ = (
        "buckets",
        "closed_high",
        "closed_low",
        "current_high",
        "current_index",
        "current_low",
        "slice_us",
        "slices",
    )

    def __init__(self, window_s: float, slices: int = 10) -> None:
        self.slices = slices
        self.slice_us = max(1, round(window_s * _MICROS / slices))
        self.buckets: deque[tuple[int, float, float]] = deque()
        self.current_index = -1
        self.current_low = 0.0
        self.current_high = 0.0
        self.closed_low = 0.0
        self.closed_high = 0.0

    def add(self, event_time: int, mid: float) -> float:
        """Add a mid; return the largest move in bps from a window extreme to this mid."""
        index = event_time // self.slice_us
        if index > self.current_index:
            self._roll(index, mid)
        elif mid < self.current_low:
            self.current_low = mid
        elif mid > self.current_high:
            self.current_high = mid
        low = self.closed_low if self.closed_low < self.current_low else self.current_low
        high = self.closed_high if self.closed_high > self.current_high else self.current_high
        up = mid - low
        down = high - mid
        return 1e4 * (up if up > down else down) / mid

    def _roll(self, index: int, mid: float) -> None:
        buckets = self.buckets
        if self.current_index >= 0:
            buckets.append((self.current_index, self.current_low, self.current_high))
        horizon = index - self.slices
        while buckets and buckets[0][0] <= horizon:
            buckets.popleft()
        self.current_index = index
        self.current_low = mid
        self.current_high = mid
        if buckets:
            self.closed_low = min(low for _, low, _ in buckets)
            self.closed_high = max(high for _, _, high in buckets)
        else:
            self.closed_low = mid
            self.closed_high = mid

    def clear(self) -> None:
        self.buckets.clear()
        self.current_index = -1

    def to_state(self) -> dict[str, Any]:
        return {
            "buckets": [list(bucket) for bucket in self.buckets],
            "current_index": self.current_index,
            "current_low": self.current_low,
            "current_high": self.current_high,
            "closed_low": self.closed_low,
            "closed_high": self.closed_high,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.buckets = deque(
            (int(index), float(low), float(high)) for index, low, high in state["buckets"]
        )
        self.current_index = int(state["current_index"])
        self.current_low = float(state["current_low"])
        self.current_high = float(state["current_high"])
        self.closed_low = float(state["closed_low"])
        self.closed_high = float(state["closed_high"])


class Baseline:
    """What is normal for one statistic of one instrument: its slice extremes over a long window.

    Each `bucket_s` slice keeps the extreme of the statistic in it (the minimum for depth, the
    maximum for spread or cost), a slice without records the last value (the book stood still),
    and the trailing `capacity` slices make the sample. At each slice roll the sample's median
    and its tail quantile (`edge`: the `tail` quantile of the minima, or the `1 - tail` quantile
    of the maxima) are read from a sorted copy kept beside it, so a record costs one comparison.
    Nearest-rank quantiles keep the numbers exact values of the sample (no interpolation, the
    same bits everywhere). `armed` says the sample spans `min_history_s`; `ratio` is edge / median
    (0 when the median is 0).

    A slice the caller `mark_stressed` is left out of the sample: a stress that lasts must not
    become the normal it is measured against.
    """

    __slots__ = (
        "armed", "bucket_us", "capacity", "current", "edge", "index", "last", "lowest", "median",
        "min_slices", "next_us", "ordered", "ratio", "samples", "stressed", "tail",
    )  # fmt: skip

    def __init__(
        self, bucket_s: float, window_s: float, tail: float, lowest: bool, min_history_s: float
    ) -> None:
        self.bucket_us = max(1, round(bucket_s * _MICROS))
        self.capacity = max(1, round(window_s / bucket_s))
        self.min_slices = max(1, math.ceil(min_history_s / bucket_s - 1e-9))
        self.tail = tail
        self.lowest = lowest
        self.samples: deque[float] = deque()
        self.ordered: list[float] = []
        self.index = -1
        self.next_us = _NEVER  # the first record starts the first slice
        self.current = 0.0
        self.last = 0.0
        self.stressed = False
        self.armed = False
        self.median = 0.0
        self.edge = 0.0
        self.ratio = 0.0

    def mark_stressed(self) -> None:
        """Keep the current slice (and the quiet slices after it) out of the sample."""
        self.stressed = True

    def add(self, event_time: int, value: float) -> None:
        if value != value:  # NaN: not a measurement, and it would break the sorted sample
            return
        if event_time >= self.next_us:
            self._roll(event_time // self.bucket_us, value)
        elif self.lowest:
            if value < self.current:
                self.current = value
        elif value > self.current:
            self.current = value
        self.last = value

    def history_s(self) -> float:
        """Seconds of history in the sample (its slices times their length)."""
        return len(self.samples) * self.bucket_us / _MICROS

    def _roll(self, index: int, value: float) -> None:
        if self.next_us != _NEVER and not self.stressed:
            self._append(self.current)
            for _ in range(min(index - self.index - 1, self.capacity)):
                self._append(self.last)
            self._summarise()
        self.index = index
        self.next_us = (index + 1) * self.bucket_us
        self.current = value
        self.stressed = False

    def _append(self, value: float) -> None:
        samples = self.samples
        ordered = self.ordered
        samples.append(value)
        bisect.insort(ordered, value)
        if len(samples) > self.capacity:
            del ordered[bisect.bisect_left(ordered, samples.popleft())]

    def _summarise(self) -> None:
        ordered = self.ordered
        count = len(ordered)
        rank = int(self.tail * (count - 1))
        self.median = ordered[count // 2]
        self.edge = ordered[rank] if self.lowest else ordered[count - 1 - rank]
        self.ratio = self.edge / self.median if self.median > 0.0 else 0.0
        self.armed = count >= self.min_slices

    def clear(self) -> None:
        self.samples.clear()
        self.ordered.clear()
        self.index = -1
        self.next_us = _NEVER
        self.stressed = False
        self.armed = False
        self.median = 0.0
        self.edge = 0.0
        self.ratio = 0.0

    def to_state(self) -> dict[str, Any]:
        return {
            "samples": list(self.samples),
            "index": self.index,
            "next_us": self.next_us,
            "current": self.current,
            "last": self.last,
            "stressed": self.stressed,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.clear()
        for value in state["samples"]:
            self._append(float(value))
        if self.samples:
            self._summarise()
        self.index = int(state["index"])
        self.next_us = int(state["next_us"])
        self.current = float(state["current"])
        self.last = float(state["last"])
        self.stressed = bool(state["stressed"])
