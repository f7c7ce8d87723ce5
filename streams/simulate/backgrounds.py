"""Stress injected into a real book: the real deltas up to the onset, then that book bent by a
scenario's regime, so detection is measured where real noise is (the simulator's random walk is
calmer than any real market).

From the onset the real book keeps evolving underneath; what is published is the real book
transformed by the regime of the moment, as the level differences to the last published book, at
every real update and at least every `step_s` (a stress moves faster than a thin book's feed).
The regime's parameters are read in relative units: `drift_bps_per_s` shifts the whole book by
whole ticks, `bid_depth`/`ask_depth` scale the sizes of a side, `extra_spread_ticks` empties
that many basis points around the mid (the simulator's tick is 1 bp of its price), and
`bid_layers` levels behind the best bid get `layer_size` times the mean size of the ten best
bid levels.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import replace

from streams.core.types import BookDelta
from streams.simulate.market import Regime, diff_levels
from streams.simulate.scenarios import Scenario

__all__ = ["apply_levels", "inject_stress"]

_MICROS = 1_000_000


def inject_stress(
    deltas: Iterable[BookDelta], chosen: Scenario, onset_us: int, step_s: float = 0.5
) -> Iterator[BookDelta]:
    """Yield the real deltas before `onset_us`, then the stressed book until the scenario ends."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    stressed: _Stress | None = None
    end_us = onset_us + round((chosen.duration_s - chosen.onset_s) * _MICROS)
    step_us = round(step_s * _MICROS)
    last_us = onset_us
    for delta in deltas:
        if delta.event_time >= end_us:
            return
        if delta.event_time >= onset_us and stressed is None:
            # what the consumer's book holds: the real book up to the last real delta yielded
            stressed = _Stress(chosen, onset_us, bids, asks)
        if delta.is_snapshot:
            bids.clear()
            asks.clear()
        apply_levels(bids, delta.bid_prices, delta.bid_sizes)
        apply_levels(asks, delta.ask_prices, delta.ask_sizes)
        if stressed is None:
            yield delta
            continue
        # the stress goes on between the feed's updates
        while last_us + step_us < delta.event_time:
            last_us += step_us
            yield stressed.packet(delta, last_us, bids, asks)
        last_us = delta.event_time
        yield stressed.packet(delta, delta.event_time, bids, asks)


def apply_levels(side: dict[float, float], prices: Iterable[float], sizes: Iterable[float]) -> None:
    """Apply one side of a delta to a price -> size dict: size 0 deletes the level."""
    for price, size in zip(prices, sizes, strict=True):
        if size:
            side[price] = size
        else:
            side.pop(price, None)


class _Stress:
    """The transformation of the real book over the stress, with what it last published."""

    def __init__(
        self,
        chosen: Scenario,
        onset_us: int,
        bids: dict[float, float],
        asks: dict[float, float],
    ) -> None:
        self.chosen = chosen
        self.onset_us = onset_us
        prices = sorted([*bids, *asks])
        steps = [b - a for a, b in itertools.pairwise(prices) if b > a]
        self.tick = min(steps) if steps else 1.0
        self.decimals = max(0, -math.floor(math.log10(self.tick)) + 2)
        # the mean size of the ten best bid levels: what "one level" holds near the touch
        best = sorted(bids, reverse=True)[:10]
        self.level_size = statistics.fmean(bids[price] for price in best) if best else 1.0
        self.drift_bps = 0.0
        self.last_us = onset_us
        self.published_bids = dict(bids)
        self.published_asks = dict(asks)

    def regime(self, t_us: int) -> Regime:
        since = (t_us - self.onset_us) / _MICROS
        return self.chosen.regime(self.chosen.onset_s + since)

    def packet(
        self, real: BookDelta, t_us: int, bids: dict[float, float], asks: dict[float, float]
    ) -> BookDelta:
        regime = self.regime(t_us)
        self.drift_bps += regime.drift_bps_per_s * (t_us - self.last_us) / _MICROS
        self.last_us = t_us
        new_bids, new_asks = self._transform(regime, bids, asks)
        bid_changes = diff_levels(self.published_bids, new_bids, reverse=True)
        ask_changes = diff_levels(self.published_asks, new_asks, reverse=False)
        self.published_bids, self.published_asks = new_bids, new_asks
        return replace(
            real,
            event_time=t_us,
            receive_time=t_us + (real.receive_time - real.event_time),
            is_snapshot=False,
            bid_prices=tuple(price for price, _ in bid_changes),
            bid_sizes=tuple(size for _, size in bid_changes),
            ask_prices=tuple(price for price, _ in ask_changes),
            ask_sizes=tuple(size for _, size in ask_changes),
            sequence=None,
            prev_sequence=None,
            checksum=None,
        )

    def _transform(
        self, regime: Regime, bids: dict[float, float], asks: dict[float, float]
    ) -> tuple[dict[float, float], dict[float, float]]:
        if not bids or not asks:
            return dict(bids), dict(asks)
        mid = (max(bids) + min(asks)) / 2.0
        shift = round(mid * (math.exp(self.drift_bps / 1e4) - 1.0) / self.tick)
        hollow = mid * regime.extra_spread_ticks / 1e4 / 2.0
        out_bids: dict[float, float] = {}
        for rank, price in enumerate(sorted(bids, reverse=True)):
            if price > mid - hollow:
                continue
            size = bids[price] * regime.bid_depth
            if 0 < rank <= regime.bid_layers:
                size += self.level_size * regime.layer_size
            out_bids[self._shifted(price, shift)] = self._size(size)
        out_asks = {
            self._shifted(price, shift): self._size(size * regime.ask_depth)
            for price, size in asks.items()
            if price >= mid + hollow
        }
        return out_bids, out_asks

    def _shifted(self, price: float, ticks: int) -> float:
        return round(price + ticks * self.tick, self.decimals)

    @staticmethod
    def _size(size: float) -> float:
        return max(round(size, 8), 1e-8)
