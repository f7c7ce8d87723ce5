"""BitMEX realtime `orderBookL2`: a `partial` book per symbol, then rows inserted, updated and
deleted by level id.

Docs: "BitMEX API: WebSocket API, Subscriptions (orderBookL2) and Response Format". Each row is
one price level keyed by (symbol, id, side). `partial` and `insert` rows carry the price;
`update` and `delete` rows (as recorded in 2021) carry only the id, so the parser keeps, per
connection, each symbol's id -> price map. The id once encoded the price (`price = (100000000 *
symbolIdx - id) * tickSize`, XBTUSD with a legacy 0.01 tick); BitMEX no longer promises that and
now writes the price on every row, which the parser prefers when present. There is no sequence
number and no checksum: an update or delete of an id the map lacks, or an insert of one it
holds, shows that a row was lost, and resyncs that instrument (`VenueUpdate.diverged`); a lost
size update cannot be seen. Rows of a symbol before its `partial` are parsed but never published
(the instrument syncs at the partial, which holds them). Sizes count contracts;
`read_instruments` says what one is worth.
"""

from __future__ import annotations

import calendar
import json
import re
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
)
from streams.venues.specs import SpecBuilder, positive_number
from streams.venues.symbols import asset

__all__ = ["BitmexParser", "expiry_of"]

WEBSOCKET_URL = "wss://ws.bitmex.com/realtime"
TABLE = "orderBookL2"  # full depth; orderBookL2_25 has the same rows, top 25
SIDES = {"Buy": 0, "Sell": 1}
# Futures: root, month code, two-digit year (XBTZ21, ETHUSDU21); they expire on the month's
# last Friday.
FUTURE = re.compile(r"^([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d\d)$")
MONTH_CODES = "FGHJKMNQUVXZ"
PERPETUAL, FUTURES = "FFWCSX", "FFCCSX"  # the instrument `typ` codes read below
# BitMEX's quote currencies, longest first; the shared list's TUSD would read XBTUSD as XB-TUSD.
QUOTES = ("USDT", "USDC", "USD", "EUR", "XBT", "ETH")

Side = dict[int, float]  # level id -> price


def expiry_of(month_code: str, year: str) -> str:
    """`U`, `21` -> `20210924`: the last Friday of the contract month."""
    full_year, month = 2000 + int(year), MONTH_CODES.index(month_code) + 1
    last = calendar.monthrange(full_year, month)[1]
    day = last - (calendar.weekday(full_year, month, last) - calendar.FRIDAY) % 7
    return f"{full_year}{month:02d}{day:02d}"


def _contract(item: dict[str, Any], at: str) -> tuple[str, float, str]:
    """(kind, contract_size, where): what one contract of the book's size is worth."""
    multiplier = float(item["multiplier"])
    if item.get("isInverse"):
        size = abs(multiplier) / abs(float(item["underlyingToSettleMultiplier"]))
        return "inverse", size, f"{at}.multiplier / underlyingToSettleMultiplier (quote units)"
    size = multiplier / float(item["quoteToSettleMultiplier"])
    where = f"{at}.multiplier / quoteToSettleMultiplier (base units)"
    if item.get("isQuanto"):  # worth multiplier * price in XBt: base units at today's XBT rate
        where += ", quanto: at the XBT rate of this response"
    return "linear", size, where


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Perpetual and futures specs from `instrument/active` (spot and options are not read)."""
    for item in body:
        if item.get("typ") not in (PERPETUAL, FUTURES):
            continue
        symbol = item["symbol"]
        at = f"[symbol={symbol}]"
        kind, size, size_at = _contract(item, at)
        build.add(symbol, {
            "kind": (kind, f"{at}.isInverse, isQuanto"),
            "base": (asset(item["underlying"]), f"{at}.underlying"),
            "quote": (asset(item["quoteCurrency"]), f"{at}.quoteCurrency"),
            "settlement": (asset(item["settlCurrency"]), f"{at}.settlCurrency"),
            "contract_size": (size, size_at),
            "tick_size": (positive_number(item.get("tickSize")), f"{at}.tickSize"),
        })  # fmt: skip


class BitmexParser(BaseVenueParser):
    """`{"table":"orderBookL2","action":..,"data":[{symbol,id,side,size,price},..]}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BITMEX",
        sequence_rule=SequenceRule.NONE,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="BitMEX API: WebSocket API, Subscriptions (orderBookL2), Response Format",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://www.bitmex.com/api/v1/instrument/active",
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or WEBSOCKET_URL
        self._levels: dict[str, Side] = {}  # per symbol since its partial on this connection

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """XBTUSD -> BTC-USD-PERP, XRPU21 -> XRP-BTC-20210924, XBTZ21 -> BTC-USD-20211231."""
        upper = venue_symbol.upper()
        if "_" in upper:  # spot, BASE_QUOTE
            base, _, quote = upper.partition("_")
            return f"{asset(base)}-{asset(quote)}"
        future = FUTURE.match(upper)
        pair = future.group(1) if future else upper
        quote = next((q for q in QUOTES if pair.endswith(q) and len(pair) > len(q)), "")
        base = asset(pair[: len(pair) - len(quote)])
        if not quote:  # XBTZ21 is quoted in USD, the other roots' futures (XRPU21) in XBT
            quote = "USD" if base == "BTC" else "XBT"
        name = f"{base}-{asset(quote)}"
        return f"{name}-{expiry_of(future.group(2), future.group(3))}" if future else f"{name}-PERP"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict) or message.get("table") != TABLE:
            return EMPTY  # welcome, subscribe replies, other tables
        action = message["action"]
        rows: dict[str, list[dict[str, Any]]] = {}
        # an empty book's partial has no rows, but its filter names the symbol it syncs
        named = message.get("filter") if action == "partial" else None
        if isinstance(named, dict) and isinstance(named.get("symbol"), str):
            rows[named["symbol"]] = []
        for row in message["data"]:
            rows.setdefault(row["symbol"], []).append(row)
        return ParseResult(
            updates=tuple(
                self._update(action, symbol, symbol_rows, receive_time_us)
                for symbol, symbol_rows in rows.items()
            )
        )

    def _update(
        self, action: str, symbol: str, rows: list[dict[str, Any]], receive_time_us: int
    ) -> VenueUpdate:
        if action == "partial":
            self._levels[symbol] = {}
        synced = symbol in self._levels
        levels = self._levels.get(symbol, {})  # before the partial: parsed, never published
        sides: tuple[tuple[list[float], list[float]], ...] = (([], []), ([], []))
        diverged = ""
        for row in rows:
            price, problem = _apply(action, levels, row)
            diverged = diverged or problem
            if price is None:
                continue
            prices, sizes = sides[SIDES[row["side"]]]
            prices.append(price)
            sizes.append(0.0 if action == "delete" else float(row["size"]))
        times = [iso_to_micros(row["timestamp"]) for row in rows if "timestamp" in row]
        delta = self.book_delta(
            symbol,
            (tuple(sides[0][0]), tuple(sides[0][1])),
            (tuple(sides[1][0]), tuple(sides[1][1])),
            is_snapshot=action == "partial",
            event_time=max(times, default=receive_time_us),
            receive_time=receive_time_us,
        )
        return VenueUpdate(delta, diverged=diverged if synced else "")

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        topics = [f"{TABLE}:{symbol}" for symbol in venue_symbols]
        return [json.dumps({"op": "subscribe", "args": topics})]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        """Unsubscribe and subscribe again: BitMEX answers with a new partial."""
        self._levels.pop(venue_symbol, None)
        unsubscribe = json.dumps({"op": "unsubscribe", "args": [f"{TABLE}:{venue_symbol}"]})
        return [unsubscribe, *self.subscribe_messages([venue_symbol])]


def _apply(action: str, levels: Side, row: dict[str, Any]) -> tuple[float | None, str]:
    """Keep the id -> price map; return the row's price (None: unknown) and why the row shows
    that an earlier one was lost ("": it does not)."""
    level_id = int(row["id"])
    known = levels.get(level_id)
    if action in ("partial", "insert"):
        price = float(row["price"])
        levels[level_id] = price
        return price, f"insert of level id {level_id}, already held" if known is not None else ""
    if action not in ("update", "delete"):
        raise ValueError(f"unknown action {action!r}")
    if "price" in row:
        price = float(row["price"])
    elif known is not None:
        price = known
    else:
        return None, f"{action} of level id {level_id}, never inserted"
    if action == "delete":
        levels.pop(level_id, None)
    problem = "" if known is not None else f"{action} of level id {level_id}, never inserted"
    return price, problem
