"""Deribit JSON-RPC v2 `book.{instrument}.raw` (or `.100ms`): snapshot then chained changes.

Docs: "Deribit API v2: Subscriptions, book.{instrument_name}.{interval}". Each change carries
`prev_change_id`, which must equal the previous packet's `change_id`; otherwise resubscribe.
The `raw` interval needs an authorised connection; `100ms` has the same format and chain.
"""

from __future__ import annotations

import itertools
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
from streams.venues.symbols import asset, expiry_from_day_month_year

__all__ = ["DeribitParser"]

WEBSOCKET_URL = "wss://www.deribit.com/ws/api/v2"
INTERVAL = "raw"
CHANNEL_PREFIX = "book."


def _levels(levels: Sequence[Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    # ["new"|"change"|"delete", price, amount]; a delete is a size-0 level
    prices = tuple(float(level[1]) for level in levels)
    sizes = tuple(0.0 if level[0] == "delete" else float(level[2]) for level in levels)
    return prices, sizes


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from one response of the instrument endpoint."""
    for item in body.get("result", []):
        name = item["instrument_name"]
        at = f"result[instrument_name={name}]"
        base, quote = asset(item["base_currency"]), asset(item["quote_currency"])
        settle = asset(item.get("settlement_currency") or item.get("counter_currency") or base)
        if item["kind"] == "option":
            kind, size = "option", float(item["contract_size"])
            size_at = f"{at}.contract_size (amount in the underlying)"
        elif item["kind"] == "future" and quote == "USD":
            kind, size = "inverse", 1.0  # book amounts are USD; contract_size 10 is the lot
            size_at = f"{at}.quote_currency=USD: amounts are USD (contract_size is the USD lot)"
        elif item["kind"] == "future":
            kind, size = "linear", 1.0
            size_at = f"{at}.kind=future, quote {quote}: amounts in the base currency"
        else:
            continue  # combos have no book of their own here
        build.add(name, {
            "kind": (kind, f"{at}.kind"), "base": (base, f"{at}.base_currency"),
            "quote": (quote, f"{at}.quote_currency"),
            "settlement": (settle, f"{at}.settlement_currency (default: base_currency)"),
            "contract_size": (size, size_at),
            "tick_size": (positive_number(item["tick_size"]), f"{at}.tick_size"),
        })  # fmt: skip


class DeribitParser(BaseVenueParser):
    """Notifications `{"method":"subscription","params":{"channel":..,"data":{..}}}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="DERIBIT",
        sequence_rule=SequenceRule.CHAIN,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="Deribit API v2: Subscriptions, book.{instrument_name}.{interval}",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = tuple(
        f"https://www.deribit.com/api/v2/public/get_instruments?currency={currency}&expired=false"
        for currency in ("BTC", "ETH", "SOL", "USDC")
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "", interval: str = INTERVAL) -> None:
        self.endpoint = endpoint or WEBSOCKET_URL
        self.interval = interval
        self._request_ids = itertools.count(1)

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """BTC-PERPETUAL -> BTC-USD-PERP, BTC-24SEP21 -> BTC-USD-20210924, options keep strike."""
        parts = venue_symbol.split("-")
        base, _, quote = parts[0].partition("_")
        name = f"{asset(base)}-{asset(quote or 'USD')}"
        if len(parts) == 1:
            return name
        if parts[1] == "PERPETUAL":
            return f"{name}-PERP"
        return "-".join([name, expiry_from_day_month_year(parts[1]), *parts[2:]])

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict) or message.get("method") != "subscription":
            return EMPTY  # RPC replies, heartbeats
        params = message["params"]
        if not params["channel"].startswith(CHANNEL_PREFIX):
            return EMPTY
        data = params["data"]
        venue_symbol = data["instrument_name"]
        is_snapshot = data.get("type") == "snapshot"
        bid_prices, bid_sizes = _levels(data["bids"])
        ask_prices, ask_sizes = _levels(data["asks"])
        previous = data.get("prev_change_id")
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=is_snapshot,
            event_time=int(data["timestamp"]) * 1000,
            receive_time=receive_time_us,
            sequence=int(data["change_id"]),
            prev_sequence=None if is_snapshot or previous is None else int(previous),
        )
        return ParseResult(updates=(VenueUpdate(delta),))

    def _request(self, method: str, channels: list[str]) -> str:
        request_id = next(self._request_ids)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        return json.dumps({**message, "params": {"channels": channels}})

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        channels = [f"{CHANNEL_PREFIX}{symbol}.{self.interval}" for symbol in venue_symbols]
        return [self._request("public/subscribe", channels)]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        channel = [f"{CHANNEL_PREFIX}{venue_symbol}.{self.interval}"]
        return [
            self._request("public/unsubscribe", channel),
            self._request("public/subscribe", channel),
        ]
