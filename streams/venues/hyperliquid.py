"""Hyperliquid `l2Book`: every push is the whole top of the book (20 levels a side).

Docs: "Hyperliquid API: Websocket, Subscriptions" (`l2Book`: `WsBook {coin, levels: [bids, asks],
time}`, `WsLevel {px, sz, n}`, best first) and "Websocket, Rate limits" (1000 subscriptions per
IP). No sequence numbers and no checksum: each push stands alone, so the capability row declares
`snapshots_only` and the synchronizer publishes the differences between consecutive pushes
(a level that leaves the top 20 reads as size 0). Perpetuals are named by coin ("BTC") and
margined in USDC; spot pairs as "PURR/USDC" or by index ("@107").
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
from streams.venues.symbols import asset

__all__ = ["DEPTH", "HyperliquidParser"]

CHANNEL = "l2Book"
DEPTH = 20  # levels per side in every push
MAX_SUBSCRIPTIONS = 1000  # "1000 websocket subscriptions" per IP
PERP_QUOTE = "USDC"


def _side(levels: Sequence[dict[str, Any]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(float(level["px"]) for level in levels), tuple(
        float(level["sz"]) for level in levels
    )


class HyperliquidParser(BaseVenueParser):
    """`{"channel":"l2Book","data":{"coin":"BTC","time":ms,"levels":[[bids],[asks]]}}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="HYPERLIQUID",
        sequence_rule=SequenceRule.NONE,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=MAX_SUBSCRIPTIONS,
        snapshots_only=True,
        docs="Hyperliquid API: Websocket, Subscriptions (l2Book); Rate limits",
    )
    websocket_url: ClassVar[str] = "wss://api.hyperliquid.xyz/ws"

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or self.websocket_url

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """BTC -> BTC-USDC-PERP, PURR/USDC -> PURR-USDC; an index name ("@107") stays."""
        if venue_symbol.startswith("@"):
            return venue_symbol
        base, slash, quote = venue_symbol.partition("/")
        if slash:
            return f"{asset(base)}-{asset(quote)}"
        return f"{asset(base)}-{PERP_QUOTE}-PERP"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict) or message.get("channel") != CHANNEL:
            return EMPTY  # subscriptionResponse, pong, other channels
        data = message["data"]
        bids, asks = data["levels"]
        bid_prices, bid_sizes = _side(bids)
        ask_prices, ask_sizes = _side(asks)
        delta = self.book_delta(
            data["coin"],
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=True,
            event_time=int(data["time"]) * 1000,
            receive_time=receive_time_us,
        )
        return ParseResult(updates=(VenueUpdate(delta),))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        return [_request("subscribe", symbol) for symbol in venue_symbols]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        return [_request("unsubscribe", venue_symbol), _request("subscribe", venue_symbol)]


def _request(method: str, coin: str) -> str:
    return json.dumps({"method": method, "subscription": {"type": CHANNEL, "coin": coin}})
