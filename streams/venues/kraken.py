"""Kraken spot websocket v1 `book`: snapshot on subscribe, then updates with a CRC32 checksum.

Docs: "Spot WebSocket API v1: book" and "Spot WebSockets: How to maintain a valid order book"
(checksum over the top 10 asks then top 10 bids, '.' removed, leading zeros stripped, using the
price and volume text as sent). Updates carry no sequence number; the checksum is the only
integrity check, so a mismatch resyncs the instrument (unsubscribe + subscribe).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

from streams.core.sync import SequenceRule
from streams.venues.base import (
    EMPTY,
    BaseVenueParser,
    Capabilities,
    ParseResult,
    SnapshotSource,
    VenueUpdate,
    parse_levels,
    raw_levels,
    seconds_text_to_micros,
)
from streams.venues.checksum import ChecksumBook
from streams.venues.specs import SpecBuilder, positive_number
from streams.venues.symbols import asset

__all__ = ["KrakenParser", "kraken_checksum"]

WEBSOCKET_URL = "wss://ws.kraken.com"
BOOK_DEPTH = 1000  # allowed: 10, 25, 100, 500, 1000
CHECKSUM_DEPTH = 10


def kraken_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Kraken's CRC32 from text levels (best first); the reference the library is tested against."""
    parts = []
    for price, size in [*asks[:CHECKSUM_DEPTH], *bids[:CHECKSUM_DEPTH]]:
        parts.append(price.replace(".", "").lstrip("0"))
        parts.append(size.replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode())


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from one response of the instrument endpoint."""
    for pair, item in body.get("result", {}).items():
        wsname = item.get("wsname")
        if not wsname or "/" not in wsname:
            continue
        at = f"result.{pair}"
        base, quote = (asset(part) for part in wsname.split("/"))
        tick = positive_number(item.get("tick_size")) or 10.0 ** -int(item["pair_decimals"])
        build.add(wsname, {
            "kind": ("spot", f"{at}.aclass_base"), "base": (base, f"{at}.wsname"),
            "quote": (quote, f"{at}.wsname"), "settlement": (quote, f"{at}.wsname (spot)"),
            "tick_size": (tick, f"{at}.pair_decimals"),
        })  # fmt: skip


class KrakenParser(BaseVenueParser):
    """Frames are lists: [channelID, {...}, ({...},) "book-1000", "XBT/USD"]."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="KRAKEN",
        sequence_rule=SequenceRule.NONE,
        checksum="KRAKEN",
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="Kraken Spot WebSocket API v1: book; How to maintain a valid order book",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://api.kraken.com/0/public/AssetPairs",
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "", depth: int = BOOK_DEPTH) -> None:
        self.endpoint = endpoint or WEBSOCKET_URL
        self.depth = depth

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        base, _, quote = venue_symbol.partition("/")
        return f"{asset(base)}-{asset(quote)}"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, list):
            return EMPTY  # events: heartbeat, systemStatus, subscriptionStatus
        channel_name = message[-2]
        if not isinstance(channel_name, str) or not channel_name.startswith("book"):
            return EMPTY
        venue_symbol = message[-1]
        bodies = message[1:-2]
        first = bodies[0]
        if "as" in first or "bs" in first:
            bids_snapshot, asks_snapshot = first.get("bs", ()), first.get("as", ())
            return self._update(
                venue_symbol, bids_snapshot, asks_snapshot, None, receive_time_us, is_snapshot=True
            )
        bids: list[Any] = []
        asks: list[Any] = []
        checksum = None
        for body in bodies:
            bids.extend(body.get("b", ()))
            asks.extend(body.get("a", ()))
            checksum = body.get("c", checksum)
        checksum_value = int(checksum) if checksum is not None else None
        return self._update(
            venue_symbol, bids, asks, checksum_value, receive_time_us, is_snapshot=False
        )

    def _update(
        self,
        venue_symbol: str,
        bids: Sequence[Any],
        asks: Sequence[Any],
        checksum: int | None,
        receive_time_us: int,
        *,
        is_snapshot: bool,
    ) -> ParseResult:
        bid_prices, bid_sizes = parse_levels(bids)
        ask_prices, ask_sizes = parse_levels(asks)
        # Kraken stamps every level; the newest one is the packet's venue time.
        stamps = [level[2] for level in (*bids, *asks)]
        event_time = max(map(seconds_text_to_micros, stamps)) if stamps else receive_time_us
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=is_snapshot,
            event_time=event_time,
            receive_time=receive_time_us,
            checksum=checksum,
        )
        update = VenueUpdate(delta, raw_bids=raw_levels(bids), raw_asks=raw_levels(asks))
        return ParseResult(updates=(update,))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        subscription = {"name": "book", "depth": self.depth}
        message = {"event": "subscribe", "pair": list(venue_symbols), "subscription": subscription}
        return [json.dumps(message)]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        subscription = {"name": "book", "depth": self.depth}
        unsubscribe = {"event": "unsubscribe", "pair": [venue_symbol], "subscription": subscription}
        return [json.dumps(unsubscribe), *self.subscribe_messages([venue_symbol])]

    def new_checksum_book(self) -> ChecksumBook:
        return ChecksumBook("KRAKEN", max_depth=self.depth)

    def checksum(self, book: ChecksumBook) -> int:
        return book.library_checksum()
