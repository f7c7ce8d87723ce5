"""The breaker started late on the hour-long real books: how a young baseline judges the rest.

Each book is replayed from the start, but the pipeline sees it only from minute M on (a snapshot
of the book at M, then the deltas): the baseline arms on whatever regime that minute holds. Prints
the suggestions per start, by action and rule; on calm books every one is a false alarm.

    .venv/bin/python bench/breaker_late_start.py [BOOKS] [MINUTES] [KEY=VALUE,...]
    .venv/bin/python bench/breaker_late_start.py bitstamp,hyperliquid,cme 0,10,25,30,35,40
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator

from streams.core.breaker_config import BreakerConfig
from streams.core.types import BookDelta, SourcePosition
from streams.simulate.backgrounds import apply_levels
from streams.simulate.evaluate import LONG_BOOKS, evaluate_calm
from streams.sources.tardis import read_tardis


def _late(book: str, minute: int) -> Iterator[tuple[BookDelta, SourcePosition]]:
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    first: int | None = None
    started = False
    for delta, position in read_tardis(LONG_BOOKS / f"{book}.csv.gz"):
        first = delta.event_time if first is None else first
        if delta.is_snapshot:
            bids.clear()
            asks.clear()
        apply_levels(bids, delta.bid_prices, delta.bid_sizes)
        apply_levels(asks, delta.ask_prices, delta.ask_sizes)
        if started:
            yield delta, position
        elif delta.event_time - first >= minute * 60_000_000:
            started = True
            bid, ask = sorted(bids.items(), reverse=True), sorted(asks.items())
            yield dataclasses.replace(
                delta, is_snapshot=True,
                bid_prices=tuple(p for p, _ in bid), bid_sizes=tuple(s for _, s in bid),
                ask_prices=tuple(p for p, _ in ask), ask_sizes=tuple(s for _, s in ask),
            ), position  # fmt: skip


def main(books: str, minutes: str, overrides: str = "") -> None:
    pairs = (item.split("=", 1) for item in overrides.split(",") if item)
    config = BreakerConfig(**{key: float(value) for key, value in pairs})
    for book in books.split(","):
        for minute in map(int, minutes.split(",")):
            outcome = evaluate_calm(book, _late(book, minute), config)
            print(f"{book} from minute {minute}: {len(outcome.alarms)} suggestions in "
                  f"{outcome.instrument_hours:.2f} h; {dict(outcome.by_action)} "
                  f"{dict(outcome.by_rule)}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(*(sys.argv[1:] or ["bitstamp,hyperliquid,cme", "0,10,25,30,35,40"]))
