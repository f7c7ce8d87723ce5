"""A deterministic, seeded L2 market: a fair price random walk and a layered limit order book.

Every packet is the diff between the previous book and the next one, as one `BookDelta` (the
first is a snapshot), with chained sequence numbers, so the real pipeline can consume it. Prices
are integer ticks divided by a power of ten, never the result of other arithmetic, so the same
tick always gives the same float key. A `Regime` (from the scenario) bends the market over time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from streams.core.types import BookDelta

__all__ = ["MarketParams", "MarketSimulator", "Regime", "diff_levels"]

_MICROS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketParams:
    """The calm market: a liquid book around 100.00 quoted in cents."""

    exchange: str = "sim"
    symbol: str = "SIM-USD"
    start_time_us: int = 1_700_000_000 * _MICROS
    step_s: float = 0.25
    start_price: float = 100.0
    tick_decimals: int = 2
    levels: int = 120
    level_size: float = 50.0
    volatility_bps_per_sqrt_s: float = 1.0
    churn_levels: int = 6
    latency_us: int = 5_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Regime:
    """How the market deviates from calm at one instant (all neutral by default)."""

    drift_bps_per_s: float = 0.0
    bid_depth: float = 1.0
    ask_depth: float = 1.0
    extra_spread_ticks: int = 0
    bid_layers: int = 0
    layer_size: float = 1.0


CALM = Regime()


class MarketSimulator:
    """Generate book deltas; `regime(t)` gives the regime `t` seconds after the start."""

    def __init__(self, params: MarketParams, seed: int) -> None:
        self.params = params
        self._random = random.Random(seed)
        self._scale: int = 10**params.tick_decimals
        self._fair_ticks = params.start_price * self._scale
        self._base: dict[int, float] = {}
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}

    def run(self, duration_s: float, regime: Callable[[float], Regime]) -> Iterator[BookDelta]:
        steps = int(duration_s / self.params.step_s)
        for n in range(steps):
            t = n * self.params.step_s
            yield self._step(n, t, regime(t))

    def _step(self, n: int, t: float, regime: Regime) -> BookDelta:
        params = self.params
        rnd = self._random
        dt = params.step_s
        shock = params.volatility_bps_per_sqrt_s * math.sqrt(dt) * rnd.gauss(0.0, 1.0)
        self._fair_ticks *= math.exp((regime.drift_bps_per_s * dt + shock) / 1e4)
        spread = 1 + (rnd.random() < 0.3) + regime.extra_spread_ticks
        best_bid = math.floor(self._fair_ticks - spread / 2)
        best_ask = best_bid + spread
        for _ in range(params.churn_levels):
            self._base.pop(best_bid + rnd.randint(-40, 40 + spread), None)
        bids = {
            self._price(best_bid - i): self._size(best_bid - i, regime.bid_depth, i, regime)
            for i in range(params.levels)
        }
        asks = {
            self._price(best_ask + i): self._size(best_ask + i, regime.ask_depth, -1, regime)
            for i in range(params.levels)
        }
        bid_changes = diff_levels(self._bids, bids, reverse=True)
        ask_changes = diff_levels(self._asks, asks, reverse=False)
        snapshot = n == 0
        if snapshot:
            bid_changes = sorted(bids.items(), reverse=True)
            ask_changes = sorted(asks.items())
        self._bids, self._asks = bids, asks
        event_time = params.start_time_us + round(t * _MICROS)
        return BookDelta(
            exchange=params.exchange,
            symbol=params.symbol,
            venue_symbol=params.symbol.replace("-", ""),
            event_time=event_time,
            receive_time=event_time + params.latency_us,
            is_snapshot=snapshot,
            bid_prices=tuple(price for price, _ in bid_changes),
            bid_sizes=tuple(size for _, size in bid_changes),
            ask_prices=tuple(price for price, _ in ask_changes),
            ask_sizes=tuple(size for _, size in ask_changes),
            sequence=n,
            prev_sequence=None if snapshot else n - 1,
        )

    def _price(self, tick: int) -> float:
        return tick / self._scale

    def _size(self, tick: int, depth: float, bid_index: int, regime: Regime) -> float:
        base = self._base.get(tick)
        if base is None:
            base = self._base[tick] = self.params.level_size * self._random.lognormvariate(0, 0.5)
        size = base * depth
        if 0 < bid_index <= regime.bid_layers:
            size += self.params.level_size * regime.layer_size
        rounded: float = round(size, 3)
        return rounded if rounded > 0.001 else 0.001


def diff_levels(
    old: dict[float, float], new: dict[float, float], *, reverse: bool
) -> list[tuple[float, float]]:
    """The level changes that turn one side of a book into another (size 0 deletes), sorted."""
    changes = [(price, size) for price, size in new.items() if old.get(price) != size]
    changes += [(price, 0.0) for price in old if price not in new]
    changes.sort(reverse=reverse)
    return changes
