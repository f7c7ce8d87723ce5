"""A book kept only to verify venue checksums, holding the venue's original decimal text.

Checksums (Kraken CRC32, OKX signed CRC32) are computed over the price and size strings exactly
as the venue wrote them; a float book loses trailing zeros. The sorted book and the CRC come from
the `order_book` C library (cryptofeed's), keyed by `Decimal`, which keeps the original digits:
measured on the recordings it matches 4269/4269 Kraken and 290/290 OKX checksums. This book is
separate from the core book on purpose: it exists only on checksum venues.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from order_book import OrderBook

from streams.venues.exceptions import ParseError

__all__ = ["ChecksumBook"]

_ZERO = Decimal(0)


class ChecksumBook:
    """Bids and asks as Decimal text keys, truncated to the venue's depth."""

    __slots__ = ("_book", "checksum_format", "max_depth")

    def __init__(self, checksum_format: str | None, max_depth: int = 0) -> None:
        """`checksum_format` None: the venue computes its checksum itself from `top`."""
        self.checksum_format = checksum_format
        self.max_depth = max_depth
        self._book = self._new_book()

    def _new_book(self) -> OrderBook:
        options: dict[str, Any] = {"max_depth": self.max_depth} if self.max_depth else {}
        if self.checksum_format is not None:
            options["checksum_format"] = self.checksum_format
        return OrderBook(**options)

    def apply(
        self,
        bids: Iterable[tuple[str, str]],
        asks: Iterable[tuple[str, str]],
        *,
        is_snapshot: bool,
    ) -> None:
        """Apply one packet of text levels; a snapshot replaces the book, size 0 deletes."""
        if is_snapshot:
            self._book = self._new_book()
        _apply_side(self._book.bids, bids)
        _apply_side(self._book.asks, asks)

    def library_checksum(self) -> int:
        """The unsigned CRC32 in the book's checksum format."""
        return int(self._book.checksum())

    def top(self, depth: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Best `depth` bids (descending) and asks (ascending) as text, for reference checks."""
        bids = self._book.bids.to_list()[:depth]
        asks = self._book.asks.to_list()[:depth]
        return [(str(p), str(s)) for p, s in bids], [(str(p), str(s)) for p, s in asks]


def _apply_side(side: Any, levels: Iterable[tuple[str, str]]) -> None:
    for price_text, size_text in levels:
        try:
            price = Decimal(price_text)
            size = Decimal(size_text)
        except InvalidOperation:
            raise ParseError(f"bad decimal level {price_text!r} {size_text!r}") from None
        if size == _ZERO:
            if price in side:
                del side[price]
        else:
            side[price] = size
