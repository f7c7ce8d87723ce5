"""The venue's true book, kept in the venue's own text so snapshots and checksums match it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

__all__ = ["Level", "TextBook"]

Level = list[str]  # the venue's own text: [price, size, ...extra fields]


class TextBook:
    """A book of text levels keyed by price text, ordered by decimal value; size 0 deletes."""

    def __init__(self, depth: int | None = None) -> None:
        self.depth = depth
        self.bids: dict[str, Level] = {}
        self.asks: dict[str, Level] = {}

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids, self.asks = {}, {}
        self.apply(bids, asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for level in levels:
                if Decimal(level[1]) == 0:
                    side.pop(level[0], None)
                else:
                    side[level[0]] = list(level)
        if self.depth is not None:  # the venue only keeps the subscribed depth
            self.bids = {level[0]: level for level in self.top_bids(self.depth)}
            self.asks = {level[0]: level for level in self.top_asks(self.depth)}

    def top_bids(self, count: int | None = None) -> list[Level]:
        ordered = sorted(self.bids.values(), key=lambda level: Decimal(level[0]), reverse=True)
        return ordered[:count]

    def top_asks(self, count: int | None = None) -> list[Level]:
        return sorted(self.asks.values(), key=lambda level: Decimal(level[0]))[:count]

    def floats(self) -> tuple[dict[float, float], dict[float, float]]:
        """The book as {price: size} per side, as a consumer of published deltas holds it."""
        return (
            {float(price): float(level[1]) for price, level in self.bids.items()},
            {float(price): float(level[1]) for price, level in self.asks.items()},
        )
