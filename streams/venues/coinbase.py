"""Coinbase Advanced Trade websocket `level2` (messages on channel `l2_data`).

Docs: "Coinbase Advanced Trade WebSocket: Channels, Level2 channel" and "Sequence numbers":
`sequence_num` counts every message of one connection across all channels, so a gap there means
any book on the connection may be wrong; the synchronizer resyncs them all. The first message per
product is a full snapshot. The retired Coinbase Pro `snapshot`/`l2update` format (no sequence
numbers) is parsed too, for the 2021 recordings.
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
    iso_to_micros,
    parse_levels,
)
from streams.venues.specs import SpecBuilder, positive_number
from streams.venues.symbols import asset

__all__ = ["CoinbaseParser"]

WEBSOCKET_URL = "wss://advanced-trade-ws.coinbase.com"
CHANNEL = "level2"
DATA_CHANNEL = "l2_data"
BID_SIDES = frozenset(("bid", "buy"))
ASK_SIDES = frozenset(("offer", "ask", "sell"))


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from one response of the instrument endpoint."""
    products = body.get("products", []) if isinstance(body, dict) else body
    for item in products:
        symbol = item.get("product_id") or item["id"]
        at = f"products[{symbol}]"
        base = asset(item.get("base_currency_id") or item["base_currency"])
        quote = asset(item.get("quote_currency_id") or item["quote_currency"])
        build.add(symbol, {
            "kind": ("spot", "(spot products)"), "base": (base, f"{at}.base_currency"),
            "quote": (quote, f"{at}.quote_currency"), "settlement": (quote, f"{at}.quote_currency"),
            "tick_size": (positive_number(item.get("quote_increment")), f"{at}.quote_increment"),
        })  # fmt: skip


class CoinbaseParser(BaseVenueParser):
    """Advanced Trade `l2_data`, and legacy `snapshot`/`l2update` frames."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="COINBASE",
        sequence_rule=SequenceRule.NONE,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        connection_sequence=True,
        docs="Coinbase Advanced Trade WebSocket: Level2 channel; Sequence numbers",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://api.coinbase.com/api/v3/brokerage/market/products",
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or WEBSOCKET_URL

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict):
            return EMPTY
        if "channel" in message:
            sequence = message.get("sequence_num")
            connection_sequence = int(sequence) if sequence is not None else None
            if message["channel"] != DATA_CHANNEL:
                return ParseResult(connection_sequence=connection_sequence)
            return self._advanced(message, connection_sequence, receive_time_us)
        kind = message.get("type")
        if kind == "snapshot":
            bids, asks = parse_levels(message["bids"]), parse_levels(message["asks"])
            return self._result(message["product_id"], bids, asks, True, receive_time_us, None)
        if kind == "l2update":
            bids, asks = _split_changes(message["changes"], 0, 1, 2)
            event_time = iso_to_micros(message["time"]) if "time" in message else None
            return self._result(
                message["product_id"], bids, asks, False, receive_time_us, event_time
            )
        return EMPTY

    def _advanced(
        self, message: dict[str, Any], connection_sequence: int | None, receive_time_us: int
    ) -> ParseResult:
        event_time = iso_to_micros(message["timestamp"])
        updates: list[VenueUpdate] = []
        for event in message["events"]:
            bids, asks = _split_changes(event["updates"], "side", "price_level", "new_quantity")
            result = self._result(
                event["product_id"],
                bids,
                asks,
                event["type"] == "snapshot",
                receive_time_us,
                event_time,
                connection_sequence,
            )
            updates.extend(result.updates)
        return ParseResult(updates=tuple(updates), connection_sequence=connection_sequence)

    def _result(
        self,
        venue_symbol: str,
        bids: tuple[tuple[float, ...], tuple[float, ...]],
        asks: tuple[tuple[float, ...], tuple[float, ...]],
        is_snapshot: bool,
        receive_time_us: int,
        event_time: int | None,
        sequence: int | None = None,
    ) -> ParseResult:
        delta = self.book_delta(
            venue_symbol,
            bids,
            asks,
            is_snapshot=is_snapshot,
            # the legacy snapshot carries no time: fall back to the receive time
            event_time=event_time if event_time is not None else receive_time_us,
            receive_time=receive_time_us,
            sequence=sequence,
        )
        return ParseResult(updates=(VenueUpdate(delta),))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        level2 = {"type": "subscribe", "product_ids": list(venue_symbols), "channel": CHANNEL}
        # heartbeats keep sequence_num moving on quiet books, so a silent gap is noticed
        heartbeats = {"type": "subscribe", "channel": "heartbeats"}
        return [json.dumps(level2), json.dumps(heartbeats)]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        message = {"type": "unsubscribe", "product_ids": [venue_symbol], "channel": CHANNEL}
        return [json.dumps(message), *self.subscribe_messages([venue_symbol])[:1]]


def _split_changes(
    changes: Sequence[Any], side_key: Any, price_key: Any, size_key: Any
) -> tuple[
    tuple[tuple[float, ...], tuple[float, ...]], tuple[tuple[float, ...], tuple[float, ...]]
]:
    """Split mixed-side changes into (bid prices, sizes), (ask prices, sizes)."""
    bid_prices: list[float] = []
    bid_sizes: list[float] = []
    ask_prices: list[float] = []
    ask_sizes: list[float] = []
    for change in changes:
        side = change[side_key]
        if side in BID_SIDES:
            bid_prices.append(float(change[price_key]))
            bid_sizes.append(float(change[size_key]))
        elif side in ASK_SIDES:
            ask_prices.append(float(change[price_key]))
            ask_sizes.append(float(change[size_key]))
        else:
            raise ValueError(f"unknown side {side!r}")
    return (tuple(bid_prices), tuple(bid_sizes)), (tuple(ask_prices), tuple(ask_sizes))
