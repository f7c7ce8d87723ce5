"""Crypto.com Exchange `book.<instrument>.150`: each push is the whole top 150 of the book.

Docs: "Crypto.com Exchange API v2: Websocket Subscriptions, book.{instrument_name}.{depth}" and
"Websocket Heartbeats": the server sends `public/heartbeat` and disconnects unless the client
answers `public/respond-heartbeat` with the same id (`heartbeat_reply`, the frame's reply); wait a
second after connecting before the first request. No sequence numbers and no checksum in this
format, so the row declares `snapshots_only` and the synchronizer publishes differences. Levels are
`[price, quantity, orders]` as JSON numbers.
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
    parse_levels,
)
from streams.venues.specs import SpecBuilder
from streams.venues.symbols import asset

__all__ = ["DEPTH", "CryptoComParser", "heartbeat_reply"]

DEPTH = 150  # levels per side in every push
CHANNEL = "book.{symbol}." + str(DEPTH)


def heartbeat_reply(message: Any) -> str | None:
    """The answer a `public/heartbeat` needs, or None for any other message."""
    if isinstance(message, dict) and message.get("method") == "public/heartbeat":
        return json.dumps({"id": message["id"], "method": "public/respond-heartbeat"})
    return None


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from `public/get-instruments` (spot; tick = 10^-price_decimals)."""
    for item in body.get("result", {}).get("instruments", []):
        name = item["instrument_name"]
        at = f"result.instruments[instrument_name={name}]"
        base, quote = asset(item["base_currency"]), asset(item["quote_currency"])
        build.add(name, {
            "kind": ("spot", "(v2 instruments are spot pairs)"),
            "base": (base, f"{at}.base_currency"), "quote": (quote, f"{at}.quote_currency"),
            "settlement": (quote, f"{at}.quote_currency"),
            "tick_size": (10.0 ** -int(item["price_decimals"]), f"{at}.price_decimals"),
        })  # fmt: skip


class CryptoComParser(BaseVenueParser):
    """`{"method":"subscribe","result":{"channel":"book","instrument_name":..,"data":[{..}]}}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="CRYPTO.COM",
        sequence_rule=SequenceRule.NONE,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        snapshots_only=True,
        docs="Crypto.com Exchange API v2: Websocket Subscriptions (book); Websocket Heartbeats",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://api.crypto.com/v2/public/get-instruments",
    )
    read_instruments = staticmethod(read_instruments)
    websocket_url: ClassVar[str] = "wss://stream.crypto.com/v2/market"

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or self.websocket_url

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """MATIC_USDT -> MATIC-USDT."""
        base, quote = venue_symbol.split("_")
        return f"{asset(base)}-{asset(quote)}"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        reply = heartbeat_reply(message)
        if reply is not None:
            return ParseResult(replies=(reply,))
        result = message.get("result") if isinstance(message, dict) else None
        if not isinstance(result, dict) or result.get("channel") != "book":
            return EMPTY  # heartbeats, acknowledgements, ticker, trade, candlestick
        venue_symbol = result["instrument_name"]
        updates = tuple(
            self._update(venue_symbol, body, receive_time_us) for body in result["data"]
        )
        return ParseResult(updates=updates)

    def _update(self, venue_symbol: str, body: Any, receive_time_us: int) -> VenueUpdate:
        bid_prices, bid_sizes = parse_levels(body["bids"])
        ask_prices, ask_sizes = parse_levels(body["asks"])
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=True,
            event_time=int(body["t"]) * 1000,
            receive_time=receive_time_us,
        )
        return VenueUpdate(delta)

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        channels = [CHANNEL.format(symbol=symbol) for symbol in venue_symbols]
        message = {"id": 1, "method": "subscribe", "params": {"channels": channels}}
        return [json.dumps(message)]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        channels = [CHANNEL.format(symbol=venue_symbol)]
        unsubscribe = {"id": 2, "method": "unsubscribe", "params": {"channels": channels}}
        return [json.dumps(unsubscribe), *self.subscribe_messages([venue_symbol])]
