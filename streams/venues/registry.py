"""The venue registry and capability table: one place that knows every supported venue.

`get_venue(name, endpoint)` returns a fresh parser for one connection (Bybit's market depends on
the endpoint; Deribit numbers its requests per connection). `CAPABILITIES` is the table that
docs/connectors.md shows and a test walks row by row.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.venues.base import Capabilities, VenueParser
from streams.venues.binance import (
    BinanceDeliveryParser,
    BinanceFuturesParser,
    BinanceSpotParser,
    BinanceUsParser,
)
from streams.venues.bitfinex import BitfinexParser
from streams.venues.bitmex import BitmexParser
from streams.venues.bitstamp import BitstampParser
from streams.venues.bybit import BybitParser
from streams.venues.coinbase import CoinbaseParser
from streams.venues.cryptocom import CryptoComParser
from streams.venues.deribit import DeribitParser
from streams.venues.exceptions import UnknownVenueError
from streams.venues.gemini import GeminiParser
from streams.venues.huobi import HuobiParser
from streams.venues.hyperliquid import HyperliquidParser
from streams.venues.kraken import KrakenParser
from streams.venues.kraken_futures import KrakenFuturesParser
from streams.venues.kucoin import KucoinParser
from streams.venues.okx import OkcoinParser, OkxParser

__all__ = ["CAPABILITIES", "VENUES", "get_venue", "venue_names"]

VENUES: dict[str, Callable[[str], VenueParser]] = {
    parser.capabilities.exchange: parser
    for parser in (
        BinanceSpotParser,
        BinanceUsParser,
        BinanceFuturesParser,
        BinanceDeliveryParser,
        BitfinexParser,
        BitmexParser,
        BitstampParser,
        BybitParser,
        CoinbaseParser,
        CryptoComParser,
        DeribitParser,
        GeminiParser,
        HuobiParser,
        HyperliquidParser,
        KrakenParser,
        KrakenFuturesParser,
        KucoinParser,
        OkxParser,
        OkcoinParser,
    )
}

CAPABILITIES: dict[str, Capabilities] = {
    name: parser("").capabilities for name, parser in VENUES.items()
}


def venue_names() -> list[str]:
    """Every registered venue name, sorted."""
    return sorted(VENUES)


def get_venue(name: str, endpoint: str = "") -> VenueParser:
    """Return a new parser for one connection to venue `name` (case-insensitive)."""
    try:
        factory = VENUES[name.upper()]
    except KeyError:
        raise UnknownVenueError(
            f"unknown venue {name!r}; known: {', '.join(venue_names())}"
        ) from None
    return factory(endpoint)
