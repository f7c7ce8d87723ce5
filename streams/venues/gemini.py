"""Gemini market data v2 `l2`: the first `l2_updates` of a symbol is its whole book.

Docs: "Gemini Market Data Websocket v2: Level 2 Data". Changes are `[side, price, quantity]`
(side "buy"/"sell", quantity "0" removes). No sequence number, no checksum and no time on book
messages (trades and heartbeats carry one), so the rule is NONE and `event_time` is the receive
time. Which update is the snapshot is a per-connection fact: the first for each symbol since it
was (re)subscribed.
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
)
from streams.venues.specs import SpecBuilder, positive_number
from streams.venues.symbols import asset

__all__ = ["GeminiParser"]

WEBSOCKET_URL = "wss://api.gemini.com/v2/marketdata"
SIDES = {"buy": 0, "sell": 1}
# Gemini's quote currencies, longest first; the shared list's TUSD would read GRTUSD as GR-TUSD.
QUOTES = ("RLUSD", "USDT", "USDC", "GUSD", "DAI", "USD", "BTC", "ETH", "LTC", "BCH", "EUR", "GBP",
          "SGD")  # fmt: skip


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Spot specs from `v1/symbols/details/{symbol}` (the `v1/symbols` list names only)."""
    if not isinstance(body, dict) or "symbol" not in body:
        return
    symbol = body["symbol"]
    at = f"symbols/details/{symbol.lower()}"
    base = asset(body.get("base_currency") or build.name(symbol).split("-")[0])
    quote = asset(body["quote_currency"])
    build.add(symbol, {
        "kind": ("spot", f"{at} (spot)"), "base": (base, f"{at}.base_currency"),
        "quote": (quote, f"{at}.quote_currency"), "settlement": (quote, f"{at}.quote_currency"),
        "tick_size": (positive_number(body.get("quote_increment")), f"{at}.quote_increment"),
    })  # fmt: skip


class GeminiParser(BaseVenueParser):
    """`{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","30000.1","0.5"],..],..}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="GEMINI",
        sequence_rule=SequenceRule.NONE,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="Gemini Market Data Websocket v2: Level 2 Data",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = ("https://api.gemini.com/v1/symbols",)
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or WEBSOCKET_URL
        self._seen: set[str] = set()  # symbols whose whole book arrived on this connection

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """BTCUSD -> BTC-USD, ZECLTC -> ZEC-LTC, BTCGUSDPERP -> BTC-GUSD-PERP."""
        upper = venue_symbol.upper()
        pair, perpetual = (upper[:-4], True) if upper.endswith("PERP") else (upper, False)
        for quote in QUOTES:
            if pair.endswith(quote) and len(pair) > len(quote):
                name = f"{asset(pair[: -len(quote)])}-{asset(quote)}"
                return f"{name}-PERP" if perpetual else name
        raise ValueError(f"unknown quote in {venue_symbol!r}")

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict) or message.get("type") != "l2_updates":
            return EMPTY  # heartbeat, trade, subscription acknowledgements
        venue_symbol = message["symbol"]
        is_snapshot = venue_symbol not in self._seen
        sides: tuple[tuple[list[float], list[float]], ...] = (([], []), ([], []))
        for side, price, quantity in message["changes"]:
            prices, sizes = sides[SIDES[side]]
            prices.append(float(price))
            sizes.append(float(quantity))
        delta = self.book_delta(
            venue_symbol,
            (tuple(sides[0][0]), tuple(sides[0][1])),
            (tuple(sides[1][0]), tuple(sides[1][1])),
            is_snapshot=is_snapshot,
            event_time=receive_time_us,
            receive_time=receive_time_us,
        )
        self._seen.add(venue_symbol)
        return ParseResult(updates=(VenueUpdate(delta),))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        subscription = {"name": "l2", "symbols": list(venue_symbols)}
        return [json.dumps({"type": "subscribe", "subscriptions": [subscription]})]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        """Unsubscribe and subscribe again: the next update of the symbol is its whole book."""
        self._seen.discard(venue_symbol)
        subscription = [{"name": "l2", "symbols": [venue_symbol]}]
        unsubscribe = json.dumps({"type": "unsubscribe", "subscriptions": subscription})
        return [unsubscribe, *self.subscribe_messages([venue_symbol])]
