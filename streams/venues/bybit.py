"""Bybit v5 public `orderbook.{depth}.{symbol}`: snapshot then deltas with contiguous `u`.

Docs: "Bybit V5 API: WebSocket Stream, Public, Orderbook". A `snapshot` message (or a delta with
u == 1, sent after a service restart) replaces the book; otherwise `u` grows by exactly one per
topic. The market (spot, linear, inverse) is only known from the connection's endpoint, so a
parser instance belongs to one endpoint. Bybit's public historical order-book dumps hold exactly
these messages, one per line, and go through the same parser.
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
from streams.venues.specs import SpecBuilder, positive_number
from streams.venues.symbols import asset, split_concatenated

__all__ = ["BybitParser"]

WEBSOCKET_URL = "wss://stream.bybit.com/v5/public/{category}"
CATEGORIES = ("spot", "linear", "inverse", "option")
BOOK_DEPTH = 200  # linear/inverse: 1, 50, 200, 500; spot: 1, 50, 200
TOPIC_PREFIX = "orderbook."
SUBSCRIBE_BATCH = 10  # spot accepts at most 10 args per subscribe request


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from one response of the instrument endpoint."""
    result = body.get("result", {})
    category = result.get("category", "")
    build.parser = BybitParser(f"wss://stream.bybit.com/v5/public/{category}")
    for item in result.get("list", []):
        symbol = item["symbol"]
        at = f"result.list[symbol={symbol}]"
        base, quote = asset(item["baseCoin"]), asset(item["quoteCoin"])
        settle = asset(item.get("settleCoin") or quote)
        kind = {"spot": "spot", "linear": "linear", "inverse": "inverse"}.get(category)
        where = "contractType" if category != "spot" else "(category=spot)"
        size_note = {"spot": "base units", "linear": "qty in the base coin",
                     "inverse": "contracts of 1 USD"}.get(category, "")  # fmt: skip
        tick = positive_number(item.get("priceFilter", {}).get("tickSize"))
        build.add(symbol, {
            "kind": (kind, f"{at}.{where}"), "base": (base, f"{at}.baseCoin"),
            "quote": (quote, f"{at}.quoteCoin"), "settlement": (settle, f"{at}.settleCoin"),
            "contract_size": (1.0, f"(Bybit v5 {category}: {size_note})"),
            "tick_size": (tick, f"{at}.priceFilter.tickSize"),
        })  # fmt: skip


class BybitParser(BaseVenueParser):
    """One endpoint (category) of Bybit v5; `linear` when the endpoint is unknown (raw files)."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BYBIT",
        sequence_rule=SequenceRule.CONTIGUOUS,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="Bybit V5 API: WebSocket Stream, Public, Orderbook",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = tuple(
        f"https://api.bybit.com/v5/market/instruments-info?category={category}&limit=1000"
        for category in ("spot", "linear", "inverse")
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "", depth: int = BOOK_DEPTH) -> None:
        tail = endpoint.rstrip("/").rsplit("/", 1)[-1] if endpoint else ""
        self.category = tail if tail in CATEGORIES else "linear"
        self.endpoint = endpoint or WEBSOCKET_URL.format(category=self.category)
        self.depth = depth

    def normalise(self, venue_symbol: str) -> str:
        """Spot BTCUSDT -> BTC-USDT; linear/inverse perpetual BTCUSDT -> BTC-USDT-PERP."""
        if self.category == "option" or "-" in venue_symbol:
            return venue_symbol  # options and dated contracts keep the venue's spelling
        base, quote = split_concatenated(venue_symbol)
        name = f"{base}-{quote}" if quote else base
        return name if self.category == "spot" else f"{name}-PERP"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict):
            return EMPTY
        topic = message.get("topic")
        if not isinstance(topic, str) or not topic.startswith(TOPIC_PREFIX):
            return EMPTY  # other topics, subscribe replies, pong
        data = message["data"]
        venue_symbol = data["s"]
        sequence = int(data["u"])
        is_snapshot = message["type"] == "snapshot" or sequence == 1
        bid_prices, bid_sizes = parse_levels(data["b"])
        ask_prices, ask_sizes = parse_levels(data["a"])
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=is_snapshot,
            event_time=int(message["ts"]) * 1000,
            receive_time=receive_time_us,
            sequence=sequence,
            prev_sequence=None if is_snapshot else sequence - 1,
        )
        return ParseResult(updates=(VenueUpdate(delta),))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        topics = [f"{TOPIC_PREFIX}{self.depth}.{symbol}" for symbol in venue_symbols]
        return [
            json.dumps({"op": "subscribe", "args": topics[i : i + SUBSCRIBE_BATCH]})
            for i in range(0, len(topics), SUBSCRIBE_BATCH)
        ]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        topic = f"{TOPIC_PREFIX}{self.depth}.{venue_symbol}"
        unsubscribe = json.dumps({"op": "unsubscribe", "args": [topic]})
        return [unsubscribe, *self.subscribe_messages([venue_symbol])]
