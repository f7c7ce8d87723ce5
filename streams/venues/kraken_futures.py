"""Kraken Futures websocket v1 `book`: a snapshot, then one level per message with a `seq`.

Docs: "Kraken Futures WebSocket API v1: Public feeds, Book". `seq` is per product and grows by
one per message, so the contiguous rule applies. Prices arrive as JSON numbers.
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
from streams.venues.symbols import asset, expiry_from_yymmdd

__all__ = ["KrakenFuturesParser"]

WEBSOCKET_URL = "wss://futures.kraken.com/ws/v1"
FEED = "book"
SNAPSHOT_FEED = "book_snapshot"


def _levels(levels: Sequence[Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(float(level["price"]) for level in levels), tuple(
        float(level["qty"]) for level in levels
    )


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from one response of the instrument endpoint."""
    kinds = {
        "futures_inverse": "inverse",
        "flexible_futures": "linear",
        "futures_vanilla": "linear",
    }
    for item in body.get("instruments", []):
        kind = kinds.get(item.get("type", ""))
        if kind is None:
            continue
        symbol = item["symbol"].upper()
        at = f"instruments[symbol={item['symbol']}]"
        base, quote = build.name(symbol).split("-")[:2]
        settle = base if kind == "inverse" else quote
        build.add(symbol, {
            "kind": (kind, f"{at}.type"), "base": (base, f"{at}.underlying"),
            "quote": (quote, f"{at}.underlying"),
            "settlement": (settle, f"{at}.type (inverse: settles in the base)"),
            "contract_size": (float(item["contractSize"]), f"{at}.contractSize"),
            "tick_size": (positive_number(item.get("tickSize")), f"{at}.tickSize"),
        })  # fmt: skip


class KrakenFuturesParser(BaseVenueParser):
    """`book_snapshot` with bids/asks lists, `book` with one {side, price, qty, seq}."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="KRAKEN_FUTURES",
        sequence_rule=SequenceRule.CONTIGUOUS,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="Kraken Futures WebSocket API v1: Public feeds, Book",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://futures.kraken.com/derivatives/api/v3/instruments",
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or WEBSOCKET_URL

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """PI_XBTUSD / PF_XBTUSD -> BTC-USD-PERP, FI_XBTUSD_210924 -> BTC-USD-20210924."""
        kind, pair, *expiry = venue_symbol.upper().split("_")
        name = f"{asset(pair[:-3])}-{asset(pair[-3:])}"
        if expiry:
            return f"{name}-{expiry_from_yymmdd(expiry[0])}"
        return f"{name}-PERP" if kind in ("PI", "PF") else f"{kind}-{name}"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict):
            return EMPTY
        feed = message.get("feed")
        if feed == SNAPSHOT_FEED:
            bids, asks = _levels(message["bids"]), _levels(message["asks"])
            return self._result(message, bids, asks, True, receive_time_us)
        if feed != FEED or "event" in message:
            return EMPTY  # other feeds, subscribe acknowledgements, heartbeats
        level = ((float(message["price"]),), (float(message["qty"]),))
        nothing: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
        side = message["side"]
        if side not in ("buy", "sell"):
            raise ValueError(f"unknown side {side!r}")
        bids, asks = (level, nothing) if side == "buy" else (nothing, level)
        return self._result(message, bids, asks, False, receive_time_us)

    def _result(
        self,
        message: dict[str, Any],
        bids: tuple[tuple[float, ...], tuple[float, ...]],
        asks: tuple[tuple[float, ...], tuple[float, ...]],
        is_snapshot: bool,
        receive_time_us: int,
    ) -> ParseResult:
        venue_symbol = message["product_id"]
        sequence = int(message["seq"])
        delta = self.book_delta(
            venue_symbol,
            (bids[0], bids[1]),
            (asks[0], asks[1]),
            is_snapshot=is_snapshot,
            event_time=int(message["timestamp"]) * 1000,
            receive_time=receive_time_us,
            sequence=sequence,
            prev_sequence=None if is_snapshot else sequence - 1,
        )
        return ParseResult(updates=(VenueUpdate(delta),))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        message = {"event": "subscribe", "feed": FEED, "product_ids": list(venue_symbols)}
        return [json.dumps(message)]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        unsubscribe = {"event": "unsubscribe", "feed": FEED, "product_ids": [venue_symbol]}
        return [json.dumps(unsubscribe), *self.subscribe_messages([venue_symbol])]
