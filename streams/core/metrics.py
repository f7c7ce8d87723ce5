"""Liquidity-imbalance metrics of one book at one event, with the per-instrument state they need.

Definitions and sources: docs/metrics.md. Every metric is computed from the book as it stands
after a whole venue packet, and from the event time of that packet; nothing reads a clock, so a
replay of the same input reproduces every float bit for bit.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from operator import neg
from typing import Any

from streams.core.book import NATIVE, UNCHANGED, Book
from streams.core.config import DEPTH_BANDS_BPS, MetricsConfig

__all__ = ["IDENTITY_FIELDS", "Ewma", "MetricState", "compute_imbalance", "imbalance_record"]

_INF = math.inf
_OFI_WINDOWS_US = (1_000_000, 10_000_000)
# Band bounds are mid * factor: the same products, in the same order, as -mid * (1 - bps * 1e-4)
# (bid keys are negated prices) and mid * (1 + bps * 1e-4).
_BID_FACTORS = tuple(1.0 - b * 1e-4 for b in DEPTH_BANDS_BPS)
_ASK_FACTORS = tuple(1.0 + b * 1e-4 for b in DEPTH_BANDS_BPS)


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
        self.flow_heads = [0] * len(_OFI_WINDOWS_US)
        self.ofi_sums = [0.0] * len(_OFI_WINDOWS_US)
        self.spread_ewma = Ewma()
        self.depth_ewma = Ewma()
        self.cache: _Cache | None = None  # derived from the book: never checkpointed

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
        if len(windows) != len(_OFI_WINDOWS_US) or any(
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


def _padded(values: list[float], length: int, fill: float) -> list[float]:
    missing = length - len(values)
    return values + [fill] * missing if missing > 0 else values


def _band_depths(
    keys: list[float], notionals: list[float], count: int, mid: float, factors: tuple[float, ...]
) -> tuple[list[float], int]:
    """Depth (quote notional) inside each band, and the last level index the result depends on.

    `keys` ascending as stored (bids negated, with `mid` negated too); a level is inside a band
    when its key <= mid * factor. Two paths with the same additions in the same order.
    """
    if NATIVE:
        return _band_depths_walk(keys, notionals, count, mid, factors)
    return _band_depths_sliced(keys, notionals, count, mid, factors)


def _band_depths_sliced(
    keys: list[float], notionals: list[float], count: int, mid: float, factors: tuple[float, ...]
) -> tuple[list[float], int]:
    """The pure-Python path: C-speed `bisect` and `sum` over the levels inside the widest band.

    Once every scanned level is inside, wider bands add nothing.
    """
    depths = []
    total = 0.0
    start = 0
    for factor in factors:
        if start == count:
            depths.append(total)
            continue
        end = bisect_right(keys, mid * factor, start, count)
        if end > start:
            # the whole list needs no copy; the same floats summed in the same order
            total += (
                sum(notionals)
                if start == 0 and end == len(notionals)
                else sum(notionals[start:end])
            )
        depths.append(total)
        start = end
    return depths, start


def _band_depths_walk(
    keys: list[float], notionals: list[float], count: int, mid: float, factors: tuple[float, ...]
) -> tuple[list[float], int]:
    """The compiled path: typed searches and sums, with the additions of the sliced path, in order.

    Each band's part is summed from 0.0 and then added to the running total, as `sum` of a slice
    does; an empty part adds +0.0, which leaves the (non-negative) total as it is.
    """
    depths: list[float] = []
    total = 0.0
    start = 0
    for factor in factors:
        # bisect_right(keys, bound, start, count), then the part from 0.0
        end, high, bound = start, count, mid * factor
        while end < high:
            middle = (end + high) >> 1
            if bound < keys[middle]:
                high = middle
            else:
                end = middle + 1
        part = 0.0
        for i in range(start, end):
            part += notionals[i]
        total += part
        depths.append(total)
        start = end
    return depths, start


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


def _slippages(
    keys: list[float], sizes: list[float], notionals: list[float], count: int,
    targets: tuple[float, ...], mid: float,
) -> tuple[list[float | None], int]:  # fmt: skip
    costs = []
    last = 0
    for target in targets:
        cost, end = _slippage_bps(keys, sizes, notionals, count, target, mid)
        costs.append(cost)
        if end > last:
            last = end
    return costs, last


class _Cache:
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
    record = imbalance_record(book, state, config, event_time, _NO_IDENTITY)
    if record is None:
        return None
    for name in IDENTITY_FIELDS:
        del record[name]
    return record


IDENTITY_FIELDS = (
    "record_id", "exchange", "symbol", "event_time", "receive_time", "source_topic",
    "source_partition", "source_offset", "config_hash",
)  # fmt: skip
_NO_IDENTITY = (None,) * len(IDENTITY_FIELDS)


def imbalance_record(
    book: Book,
    state: MetricState,
    config: MetricsConfig,
    event_time: int,
    identity: tuple[Any, ...],
) -> dict[str, Any] | None:
    """The whole imbalance record (schema order): `identity` values of IDENTITY_FIELDS, then the
    metrics; None when the book is invalid or one side is empty.

    Built in one dict display because the record is the per-event cost that remains once the
    book is fast. Values that depend only on levels the last packets did not touch (top-k sums,
    the previous top of book, band depths and fills at an unchanged mid) are reused from the
    previous record instead of recomputed: same operations on the same floats, same bits.
    """
    bids, asks = book.bids, book.asks
    bk, bs, ak, asz = bids.keys, bids.sizes, asks.keys, asks.sizes
    if not (book.valid and bk and ak):
        return None
    bid_from, ask_from = bids.changed_from, asks.changed_from
    bids.changed_from = asks.changed_from = UNCHANGED
    pb, qb, pa, qa = -bk[0], bs[0], ak[0], asz[0]
    mid = (pb + pa) * 0.5
    spread_bps = 1e4 * (pa - pb) / mid
    cache = state.cache
    if cache is None or cache.config is not config:
        cache = state.cache = _Cache(config)
        bid_from = ask_from = 0
    if bid_from < 10:
        cache.bid_top = (sum(bs[:5]), sum(bs[:10]))
    if ask_from < 10:
        cache.ask_top = (sum(asz[:5]), sum(asz[:10]))
    sb5, sb10 = cache.bid_top
    sa5, sa10 = cache.ask_top

    ofi, mlofi = _flows(state, config.mlofi_levels, bk, bs, ak, asz, bid_from, ask_from)
    window_sums = _window_sums(state, event_time, ofi if ofi is not None else 0.0)

    scan = config.scan_levels
    if mid != cache.mid:
        cache.mid = mid
        bid_from = ask_from = 0
    if bid_from <= cache.bid_band_end:
        count = min(scan, len(bk))
        cache.bid_depths, cache.bid_band_end = _band_depths(
            bk, bids.notionals, count, -mid, _BID_FACTORS
        )
    if ask_from <= cache.ask_band_end:
        count = min(scan, len(ak))
        cache.ask_depths, cache.ask_band_end = _band_depths(
            ak, asks.notionals, count, mid, _ASK_FACTORS
        )
    bid_depths, ask_depths = cache.bid_depths, cache.ask_depths
    targets = config.cost_notionals
    if bid_from <= cache.sell_end:
        count = min(scan, len(bk))
        cache.sell, cache.sell_end = _slippages(bk, bs, bids.notionals, count, targets, mid)
    if ask_from <= cache.buy_end:
        count = min(scan, len(ak))
        cache.buy, cache.buy_end = _slippages(ak, asz, asks.notionals, count, targets, mid)
    buy, sell = cache.buy, cache.sell
    cost = [
        {"notional": target, "buy_bps": buy[i], "sell_bps": sell[i]}
        for i, target in enumerate(targets)
    ]

    decay = cache.decay_per_us
    spread_z = state.spread_ewma.update(
        math.log(spread_bps), event_time, decay, config.z_min_samples
    )
    band = cache.depth_band
    depth_total = bid_depths[band] + ask_depths[band]
    depth_z = (
        state.depth_ewma.update(math.log(depth_total), event_time, decay, config.z_min_samples)
        if depth_total > 0.0
        else None
    )
    return {
        "record_id": identity[0],
        "exchange": identity[1],
        "symbol": identity[2],
        "event_time": identity[3],
        "receive_time": identity[4],
        "source_topic": identity[5],
        "source_partition": identity[6],
        "source_offset": identity[7],
        "config_hash": identity[8],
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


def _flows(
    state: MetricState, levels: int, bk: list[float], bs: list[float], ak: list[float],
    asz: list[float], bid_from: int, ask_from: int,
) -> tuple[float | None, list[float] | None]:  # fmt: skip
    """OFI and multi-level OFI against the previous record; remember this record's top levels."""
    previous = state.previous
    if previous is not None and bid_from >= levels and ask_from >= levels:
        # Both tops unchanged: every level's term is x - x - y + y, which is +0.0 exactly.
        return 0.0, [0.0] * levels
    if previous is not None and bid_from >= levels:
        top_bp, top_bq = previous[0], previous[1]
    else:
        top_bp = _padded(list(map(neg, bk[:levels])), levels, 0.0)
        top_bq = _padded(bs[:levels], levels, 0.0)
    if previous is not None and ask_from >= levels:
        top_ap, top_aq = previous[2], previous[3]
    else:
        top_ap = _padded(ak[:levels], levels, _INF)
        top_aq = _padded(asz[:levels], levels, 0.0)
    state.previous = (top_bp, top_bq, top_ap, top_aq)
    if previous is None:
        return None, None
    pbp_, pbq_, pap_, paq_ = previous
    mlofi: list[float] = []
    for k in range(levels):
        bp = top_bp[k]
        pbp = pbp_[k]
        ap = top_ap[k]
        pap = pap_[k]
        mlofi.append(
            (top_bq[k] if bp >= pbp else 0.0)
            - (pbq_[k] if bp <= pbp else 0.0)
            - (top_aq[k] if ap <= pap else 0.0)
            + (paq_[k] if ap >= pap else 0.0)
        )
    return mlofi[0], mlofi


def _window_sums(state: MetricState, event_time: int, flow: float) -> list[float]:
    """Add `flow` to each OFI window and drop what fell out of it; the running sums.

    A window whose only entry is the new one is re-anchored to it, so the sums never drift.
    """
    times, values, heads, window_sums = (
        state.flow_times, state.flow_values, state.flow_heads, state.ofi_sums
    )  # fmt: skip
    times.append(event_time)
    values.append(flow)
    last = len(times) - 1
    for w in range(len(heads)):
        head = heads[w]
        total = window_sums[w] + flow
        horizon = event_time - _OFI_WINDOWS_US[w]
        while times[head] <= horizon:
            total -= values[head]
            head += 1
        heads[w] = head
        window_sums[w] = total if head < last else flow
    dropped = heads[-1]  # the longest window's start: nothing before it is in any window
    if dropped > 256 and 2 * dropped > last:
        del times[:dropped]
        del values[:dropped]
        for w in range(len(heads)):
            heads[w] -= dropped
    return window_sums
