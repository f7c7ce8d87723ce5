"""Huobi/HTX spot `market.<symbol>.depth.step0`: gzip frames, each a whole 150-level book.

Docs: "HTX (Huobi) Spot API: Websocket Market Data, Market Depth" and "Heartbeat": every frame
is gzip-compressed JSON; the server sends `{"ping": ts}` and closes the socket unless the client
answers `{"pong": ts}` (`pong_message`, the frame's reply). `depth.step0` pushes the whole top
150 every time (`tick.version` grows but is not contiguous), so the row declares
`snapshots_only` and the synchronizer publishes differences. Prices are JSON numbers, some in
scientific notation.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

from streams.core.sync import SequenceRule
from streams.venues.base import (
    EMPTY,
    MAX_FRAME_BYTES,
    BaseVenueParser,
    Capabilities,
    ParseResult,
    SnapshotSource,
    VenueUpdate,
    parse_levels,
)
from streams.venues.exceptions import ParseError
from streams.venues.specs import SpecBuilder
from streams.venues.symbols import asset, split_concatenated

__all__ = ["DEPTH", "HuobiParser", "inflate", "pong_message"]

CHANNEL = "market.{symbol}.depth.step0"
DEPTH = 150  # levels per side in every push
_GZIP = b"\x1f\x8b"
HUSD = "HUSD"


def inflate(frame: str | bytes) -> str | bytes:
    """Un-gzip a binary frame, refusing one that inflates past `MAX_FRAME_BYTES`."""
    if isinstance(frame, str) or not frame.startswith(_GZIP):
        return frame
    inflater = zlib.decompressobj(wbits=31)
    try:
        text = inflater.decompress(frame, MAX_FRAME_BYTES + 1)
    except zlib.error as error:
        raise ParseError(f"HUOBI: bad gzip frame ({error})") from None
    if len(text) > MAX_FRAME_BYTES or inflater.unconsumed_tail:
        raise ParseError(f"HUOBI: gzip frame inflates past {MAX_FRAME_BYTES} bytes")
    return text


def pong_message(ping: Any) -> str:
    """The answer to the server's `{"ping": ts}` heartbeat."""
    return json.dumps({"pong": ping})


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from `GET /v1/common/symbols` (spot pairs; tick = 10^-price-precision)."""
    for item in body.get("data", []):
        symbol = item["symbol"]
        at = f"data[symbol={symbol}]"
        base, quote = asset(item["base-currency"]), asset(item["quote-currency"])
        build.add(symbol, {
            "kind": ("spot", "(spot symbols)"), "base": (base, f"{at}.base-currency"),
            "quote": (quote, f"{at}.quote-currency"),
            "settlement": (quote, f"{at}.quote-currency"),
            "tick_size": (10.0 ** -int(item["price-precision"]), f"{at}.price-precision"),
        })  # fmt: skip


class HuobiParser(BaseVenueParser):
    """`{"ch":"market.btcusdt.depth.step0","ts":ms,"tick":{"bids","asks","version","ts"}}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="HUOBI",
        sequence_rule=SequenceRule.NONE,
        checksum=None,
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        snapshots_only=True,
        docs="HTX (Huobi) Spot API: Websocket Market Data, Market Depth; Heartbeat",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = ("https://api.huobi.pro/v1/common/symbols",)
    read_instruments = staticmethod(read_instruments)
    websocket_url: ClassVar[str] = "wss://api.huobi.pro/ws"

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or self.websocket_url

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """btcusdt -> BTC-USDT (by the longest known quote); HUSD, Huobi's own stablecoin, is
        a quote here only (elsewhere BCHUSD is BCH-USD)."""
        upper = venue_symbol.upper()
        if upper.endswith(HUSD) and len(upper) > len(HUSD):
            return f"{asset(upper[: -len(HUSD)])}-{HUSD}"
        base, quote = split_concatenated(upper)
        return f"{base}-{quote}" if quote else base

    def parse(self, frame: str | bytes, receive_time_us: int) -> ParseResult:
        return super().parse(inflate(frame), receive_time_us)

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if isinstance(message, dict) and "ping" in message:
            return ParseResult(replies=(pong_message(message["ping"]),))
        if not isinstance(message, dict) or "tick" not in message:
            return EMPTY  # subscribe replies, trades
        channel = message["ch"]
        if not channel.endswith(".depth.step0"):
            return EMPTY
        venue_symbol = channel.split(".")[1]
        tick = message["tick"]
        bid_prices, bid_sizes = parse_levels(tick["bids"])
        ask_prices, ask_sizes = parse_levels(tick["asks"])
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=True,
            event_time=int(tick.get("ts") or message["ts"]) * 1000,
            receive_time=receive_time_us,
        )
        return ParseResult(updates=(VenueUpdate(delta),))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        return [
            json.dumps({"sub": CHANNEL.format(symbol=symbol.lower()), "id": str(index)})
            for index, symbol in enumerate(venue_symbols, start=1)
        ]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        channel = CHANNEL.format(symbol=venue_symbol.lower())
        return [json.dumps({"unsub": channel, "id": "0"}), *self.subscribe_messages([venue_symbol])]
