"""Binance spot, Binance.US, USDⓈ-M and COIN-M futures: diff depth stream + REST snapshot.

Docs: "How to manage a local order book correctly" (Spot API, WebSocket Streams) and
"How to manage a local order book correctly" (USDⓈ-M / COIN-M Futures, Websocket Market Streams).
Spot bridges with U <= lastUpdateId+1 <= u then U == previous u + 1; futures bridge with
U <= lastUpdateId <= u then pu == previous u. Both sequence rules live in core/sync.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

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
from streams.venues.specs import SpecBuilder, price_filter_tick
from streams.venues.symbols import asset, expiry_from_yymmdd, split_concatenated

__all__ = [
    "BinanceDeliveryParser",
    "BinanceFuturesParser",
    "BinanceSpotParser",
    "BinanceUsParser",
]

DEPTH_STREAM = "{symbol}@depth@100ms"
SNAPSHOT_LIMIT = 1000
SPOT_MAX_STREAMS = 1024  # "A single connection can listen to a maximum of 1024 streams"
FUTURES_MAX_STREAMS = 200  # "A single connection can listen to a maximum of 200 streams"
SUBSCRIBE_BATCH = 200  # streams per SUBSCRIBE request, to stay under the message-rate limit


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from one response of the instrument endpoint."""
    for item in body.get("symbols", []):
        symbol = item["symbol"]
        at = f"symbols[symbol={symbol}]"
        base, quote = asset(item["baseAsset"]), asset(item["quoteAsset"])
        common = {
            "base": (base, f"{at}.baseAsset"), "quote": (quote, f"{at}.quoteAsset"),
            "tick_size": (price_filter_tick(item.get("filters", [])),
                          f"{at}.filters[PRICE_FILTER].tickSize"),
        }  # fmt: skip
        fields: dict[str, tuple[Any, str]]
        if build.venue in ("BINANCE", "BINANCE_US"):
            fields = {"kind": ("spot", "(spot exchangeInfo)"),
                      "settlement": (quote, f"{at}.quoteAsset (spot)")}  # fmt: skip
        elif build.venue == "BINANCE_FUTURES":
            fields = {
                "kind": ("linear", f"{at}.contractType (USD-M: quantity in the base asset)"),
                "settlement": (asset(item["marginAsset"]), f"{at}.marginAsset"),
                "contract_size": (1.0, "(USD-M quantities are base units; no contractSize)"),
            }
        else:
            fields = {
                "kind": ("inverse", f"{at}.contractType (COIN-M: contracts of contractSize USD)"),
                "settlement": (asset(item["marginAsset"]), f"{at}.marginAsset"),
                "contract_size": (float(item["contractSize"]), f"{at}.contractSize"),
            }
        build.add(symbol, {**common, **fields})


class BinanceSpotParser(BaseVenueParser):
    """Spot `<symbol>@depth@100ms`; snapshot from `GET /api/v3/depth?limit=1000`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BINANCE",
        sequence_rule=SequenceRule.BINANCE_SPOT,
        checksum=None,
        snapshot_source=SnapshotSource.REST,
        max_subscriptions=SPOT_MAX_STREAMS,
        docs="Binance Spot API: WebSocket Streams, How to manage a local order book correctly",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://api.binance.com/api/v3/exchangeInfo",
    )
    read_instruments = staticmethod(read_instruments)
    websocket_url: ClassVar[str] = "wss://stream.binance.com:9443/stream"
    rest_url: ClassVar[str] = "https://api.binance.com/api/v3/depth"

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or self.websocket_url

    def normalise(self, venue_symbol: str) -> str:
        base, quote = split_concatenated(venue_symbol)
        return f"{base}-{quote}" if quote else base

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        data = message.get("data", message) if isinstance(message, dict) else None
        if not isinstance(data, dict) or data.get("e") != "depthUpdate":
            return EMPTY  # other streams (bookTicker, aggTrade, kline) and request replies
        venue_symbol = data["s"]
        first, last = int(data["U"]), int(data["u"])
        previous = int(data["pu"]) if "pu" in data else first - 1
        bid_prices, bid_sizes = parse_levels(data["b"])
        ask_prices, ask_sizes = parse_levels(data["a"])
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=False,
            event_time=int(data.get("T") or data["E"]) * 1000,  # T: matching time (futures)
            receive_time=receive_time_us,
            sequence=last,
            prev_sequence=previous,
        )
        return ParseResult(updates=(VenueUpdate(delta, first_sequence=first),))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        streams = [DEPTH_STREAM.format(symbol=symbol.lower()) for symbol in venue_symbols]
        return [
            json.dumps({"method": "SUBSCRIBE", "params": streams[i : i + SUBSCRIBE_BATCH], "id": i})
            for i in range(0, len(streams), SUBSCRIBE_BATCH)
        ]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        return []  # the stream stays up; a resync only needs a new REST snapshot

    def snapshot_url(self, venue_symbol: str) -> str | None:
        return f"{self.rest_url}?symbol={venue_symbol.upper()}&limit={SNAPSHOT_LIMIT}"

    def snapshot_symbol(self, url: str) -> str | None:
        parts = urlsplit(url)
        if not url.startswith(self.rest_url):
            return None
        symbols = parse_qs(parts.query).get("symbol")
        return symbols[0] if symbols else None

    def parse_snapshot(
        self, body: str | bytes, venue_symbol: str, receive_time_us: int
    ) -> VenueUpdate:
        """Parse a REST depth snapshot; spot sends no time, so event_time is the receive time."""
        message = load_json(body)
        try:
            return self._snapshot(message, venue_symbol, receive_time_us)
        except (KeyError, IndexError, TypeError, ValueError, OverflowError) as error:
            raise ParseError(
                f"{self.capabilities.exchange} snapshot {venue_symbol}: {error}"
            ) from None

    def _snapshot(self, message: Any, venue_symbol: str, receive_time_us: int) -> VenueUpdate:
        if "lastUpdateId" not in message:
            raise ParseError(
                f"{self.capabilities.exchange} snapshot without lastUpdateId: {message}"
            )
        bid_prices, bid_sizes = parse_levels(message["bids"])
        ask_prices, ask_sizes = parse_levels(message["asks"])
        venue_time = message.get("T") or message.get("E")
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=True,
            event_time=int(venue_time) * 1000 if venue_time else receive_time_us,
            receive_time=receive_time_us,
            sequence=int(message["lastUpdateId"]),
        )
        return VenueUpdate(delta)


class BinanceUsParser(BinanceSpotParser):
    """Binance.US: the spot protocol on its own hosts."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BINANCE_US",
        sequence_rule=SequenceRule.BINANCE_SPOT,
        checksum=None,
        snapshot_source=SnapshotSource.REST,
        max_subscriptions=SPOT_MAX_STREAMS,
        docs="Binance.US API: WebSocket Streams, Managing a local order book",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://api.binance.us/api/v3/exchangeInfo",
    )
    websocket_url: ClassVar[str] = "wss://stream.binance.us:9443/stream"
    rest_url: ClassVar[str] = "https://api.binance.us/api/v3/depth"


class BinanceFuturesParser(BinanceSpotParser):
    """USDⓈ-M futures: `pu` chains packets; BTCUSDT is a perpetual, BTCUSDT_211231 a future."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BINANCE_FUTURES",
        sequence_rule=SequenceRule.BINANCE_FUTURES,
        checksum=None,
        snapshot_source=SnapshotSource.REST,
        max_subscriptions=FUTURES_MAX_STREAMS,
        docs="Binance USDS-M Futures: Websocket Market Streams, How to manage a local order book",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://fapi.binance.com/fapi/v1/exchangeInfo",
    )
    websocket_url: ClassVar[str] = "wss://fstream.binance.com/stream"
    rest_url: ClassVar[str] = "https://fapi.binance.com/fapi/v1/depth"

    def normalise(self, venue_symbol: str) -> str:
        pair, _, suffix = venue_symbol.partition("_")
        base, quote = split_concatenated(pair)
        name = f"{base}-{quote}" if quote else base
        if not suffix or suffix == "PERP":
            return f"{name}-PERP"
        return f"{name}-{expiry_from_yymmdd(suffix)}"


class BinanceDeliveryParser(BinanceFuturesParser):
    """COIN-M futures: BTCUSD_PERP and BTCUSD_211231."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BINANCE_DELIVERY",
        sequence_rule=SequenceRule.BINANCE_FUTURES,
        checksum=None,
        snapshot_source=SnapshotSource.REST,
        max_subscriptions=FUTURES_MAX_STREAMS,
        docs="Binance COIN-M Futures: Websocket Market Streams, How to manage a local order book",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://dapi.binance.com/dapi/v1/exchangeInfo",
    )
    websocket_url: ClassVar[str] = "wss://dstream.binance.com/stream"
    rest_url: ClassVar[str] = "https://dapi.binance.com/dapi/v1/depth"
