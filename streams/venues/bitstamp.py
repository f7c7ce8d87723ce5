"""Bitstamp websocket v2 `diff_order_book_{pair}` with the REST `order_book` snapshot.

Docs: "Bitstamp WebSocket API v2: Channels (Live full order book, diff)" and "HTTP API: Order
book". Diffs carry no sequence number, only `microtimestamp`; the documented way to sync is to
subscribe, fetch the REST order book (it has a `microtimestamp` too) and drop the diffs at or
before it. So the rule is MONOTONIC on microtimestamps: a later one is applied whatever the step,
an earlier or equal one is stale, and a gap cannot be seen at all. Size "0" removes a level.
"""

from __future__ import annotations

import json
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
    load_json,
    parse_levels,
)
from streams.venues.exceptions import ParseError
from streams.venues.specs import SpecBuilder
from streams.venues.symbols import asset

__all__ = ["BitstampParser"]

WEBSOCKET_URL = "wss://ws.bitstamp.net"
CHANNEL = "diff_order_book_"
REST_URL = "https://www.bitstamp.net/api/v2/order_book/"
# Bitstamp's quote currencies (trading-pairs-info), longest first: a wider list misreads
# "ethusd" as ET-HUSD.
QUOTES = ("USDT", "USDC", "EUR", "USD", "GBP", "BTC", "ETH", "PAX")


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Spot specs from `trading-pairs-info`: the pair's name, its tick from `counter_decimals`."""
    for item in body:
        symbol = item["url_symbol"]
        at = f"[url_symbol={symbol}]"
        base, quote = (asset(part) for part in item["name"].split("/"))
        build.add(symbol, {
            "kind": ("spot", f"{at} (spot pairs)"), "base": (base, f"{at}.name"),
            "quote": (quote, f"{at}.name"), "settlement": (quote, f"{at}.name (spot)"),
            "tick_size": (10.0 ** -int(item["counter_decimals"]), f"{at}.counter_decimals"),
        })  # fmt: skip


class BitstampParser(BaseVenueParser):
    """`{"event":"data","channel":"diff_order_book_ethusd","data":{microtimestamp,bids,asks}}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BITSTAMP",
        sequence_rule=SequenceRule.MONOTONIC,
        checksum=None,
        snapshot_source=SnapshotSource.REST,
        max_subscriptions=None,
        docs="Bitstamp WebSocket API v2: Channels (diff order book); HTTP API: Order book",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://www.bitstamp.net/api/v2/trading-pairs-info/",
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or WEBSOCKET_URL

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """ethusd -> ETH-USD, usdtusd -> USDT-USD (by Bitstamp's quote currencies)."""
        upper = venue_symbol.upper()
        for quote in QUOTES:
            if upper.endswith(quote) and len(upper) > len(quote):
                return f"{asset(upper[: -len(quote)])}-{quote}"
        raise ValueError(f"unknown quote in {venue_symbol!r}")

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict) or message.get("event") != "data":
            return EMPTY  # subscription_succeeded, bts:heartbeat, request_reconnect
        channel = message["channel"]
        if not channel.startswith(CHANNEL):
            return EMPTY  # live_trades and the like
        update = self._update(channel[len(CHANNEL) :], message["data"], False, receive_time_us)
        return ParseResult(updates=(update,))

    def _update(
        self, venue_symbol: str, data: dict[str, Any], is_snapshot: bool, receive_time_us: int
    ) -> VenueUpdate:
        stamp = int(data["microtimestamp"])
        bid_prices, bid_sizes = parse_levels(data["bids"])
        ask_prices, ask_sizes = parse_levels(data["asks"])
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=is_snapshot,
            event_time=stamp,
            receive_time=receive_time_us,
            sequence=stamp,
        )
        return VenueUpdate(delta)

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        return [
            json.dumps({"event": "bts:subscribe", "data": {"channel": CHANNEL + symbol}})
            for symbol in venue_symbols
        ]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        return []  # the channel stays up; a resync only needs a new REST snapshot

    def snapshot_url(self, venue_symbol: str) -> str | None:
        return REST_URL + venue_symbol

    def snapshot_symbol(self, url: str) -> str | None:
        if not url.startswith(REST_URL):
            return None
        return url[len(REST_URL) :].split("?")[0].strip("/") or None

    def parse_snapshot(
        self, body: str | bytes, venue_symbol: str, receive_time_us: int
    ) -> VenueUpdate:
        """`{"timestamp","microtimestamp","bids","asks"}`; anything else is a `ParseError`."""
        message = load_json(body)
        try:
            return self._update(venue_symbol, message, True, receive_time_us)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as error:
            raise ParseError(f"BITSTAMP snapshot {venue_symbol}: {error}") from None
