"""OKX v5 public `books` channel (400 levels); OKCoin serves the same v5 format.

Docs: "OKX API v5: WebSocket Public Channel, Order book channel" and its "Checksum" section:
signed CRC32 over the top 25 levels, bid and ask interleaved as "bidPx:bidSz:askPx:askSz:...",
using the text as sent. Newer pushes carry `seqId`/`prevSeqId` (chained); older ones (as in the
2022 recording) do not, and then the checksum alone protects the book.
"""

from __future__ import annotations

import json
import zlib
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
    raw_levels,
)
from streams.venues.checksum import ChecksumBook
from streams.venues.specs import SpecBuilder, positive_number
from streams.venues.symbols import asset, expiry_from_yymmdd

__all__ = ["OkcoinParser", "OkxParser", "okx_checksum", "to_signed_32"]

CHANNEL = "books"
CHECKSUM_DEPTH = 25
SUBSCRIBE_BATCH = 100  # arguments per request; OKX caps one request at 64 KB


def to_signed_32(value: int) -> int:
    """OKX publishes the CRC32 as a signed 32-bit integer."""
    return value - (1 << 32) if value >= (1 << 31) else value


def okx_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """OKX's signed CRC32 from text levels (best first); the reference for the library."""
    parts: list[str] = []
    for index in range(min(CHECKSUM_DEPTH, max(len(bids), len(asks)))):
        if index < len(bids):
            parts.extend(bids[index])
        if index < len(asks):
            parts.extend(asks[index])
    return to_signed_32(zlib.crc32(":".join(parts).encode()))


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from one response of the instrument endpoint."""
    for item in body.get("data", []):
        name = item["instId"]
        at = f"data[instId={name}]"
        tick = (positive_number(item.get("tickSz")), f"{at}.tickSz")
        if item["instType"] == "SPOT":
            base, quote = asset(item["baseCcy"]), asset(item["quoteCcy"])
            build.add(name, {
                "kind": ("spot", f"{at}.instType"), "base": (base, f"{at}.baseCcy"),
                "quote": (quote, f"{at}.quoteCcy"), "settlement": (quote, f"{at}.quoteCcy"),
                "tick_size": tick,
            })  # fmt: skip
            continue
        base, quote = (asset(part) for part in item["uly"].split("-")[:2])
        kind = {"linear": "linear", "inverse": "inverse"}.get(item.get("ctType", ""), "option")
        size = float(item["ctVal"]) * float(item.get("ctMult") or 1)
        build.add(name, {
            "kind": (kind, f"{at}.ctType"), "base": (base, f"{at}.uly"),
            "quote": (quote, f"{at}.uly"),
            "settlement": (asset(item["settleCcy"]), f"{at}.settleCcy"),
            "contract_size": (size, f"{at}.ctVal * ctMult (in ctValCcy={item['ctValCcy']})"),
            "tick_size": tick,
        })  # fmt: skip


class OkxParser(BaseVenueParser):
    """`{"arg":{"channel":"books","instId":..},"action":"snapshot"|"update","data":[{..}]}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="OKX",
        sequence_rule=SequenceRule.CHAIN,
        checksum="OKX",
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="OKX API v5: WebSocket Public Channel, Order book channel (checksum, seqId)",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = tuple(
        f"https://www.okx.com/api/v5/public/instruments?instType={kind}"
        for kind in ("SPOT", "SWAP", "FUTURES")
    )
    read_instruments = staticmethod(read_instruments)
    websocket_url: ClassVar[str] = "wss://ws.okx.com:8443/ws/v5/public"

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or self.websocket_url

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """BTC-USDT, BTC-USDT-SWAP -> BTC-USDT-PERP, BTC-USD-220527 -> BTC-USD-20220527."""
        parts = venue_symbol.split("-")
        name = f"{asset(parts[0])}-{asset(parts[1])}"
        if len(parts) == 2:
            return name
        if parts[2] == "SWAP":
            return f"{name}-PERP"
        return "-".join([name, expiry_from_yymmdd(parts[2]), *parts[3:]])

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict) or "data" not in message:
            return EMPTY  # subscribe acknowledgements, errors, pong
        argument = message["arg"]
        if argument.get("channel") != CHANNEL:
            return EMPTY
        venue_symbol = argument["instId"]
        is_snapshot = message["action"] == "snapshot"
        updates = tuple(
            self._update(venue_symbol, body, is_snapshot, receive_time_us)
            for body in message["data"]
        )
        return ParseResult(updates=updates)

    def _update(
        self, venue_symbol: str, body: Any, is_snapshot: bool, receive_time_us: int
    ) -> VenueUpdate:
        bids, asks = body["bids"], body["asks"]
        bid_prices, bid_sizes = parse_levels(bids)
        ask_prices, ask_sizes = parse_levels(asks)
        sequence = body.get("seqId")
        previous = body.get("prevSeqId")
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=is_snapshot,
            event_time=int(body["ts"]) * 1000,
            receive_time=receive_time_us,
            sequence=int(sequence) if sequence is not None else None,
            # -1 marks the start of a chain (snapshot), not a real number
            prev_sequence=int(previous) if previous is not None and int(previous) >= 0 else None,
            checksum=int(body["checksum"]) if "checksum" in body else None,
        )
        return VenueUpdate(delta, raw_bids=raw_levels(bids), raw_asks=raw_levels(asks))

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        arguments = [{"channel": CHANNEL, "instId": symbol} for symbol in venue_symbols]
        return [
            json.dumps({"op": "subscribe", "args": arguments[i : i + SUBSCRIBE_BATCH]})
            for i in range(0, len(arguments), SUBSCRIBE_BATCH)
        ]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        argument = [{"channel": CHANNEL, "instId": venue_symbol}]
        unsubscribe = json.dumps({"op": "unsubscribe", "args": argument})
        return [unsubscribe, *self.subscribe_messages([venue_symbol])]

    def new_checksum_book(self) -> ChecksumBook:
        return ChecksumBook("OKX")

    def checksum(self, book: ChecksumBook) -> int:
        return to_signed_32(book.library_checksum())


class OkcoinParser(OkxParser):
    """OKCoin: the OKX v5 protocol on its own host."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="OKCOIN",
        sequence_rule=SequenceRule.CHAIN,
        checksum="OKX",
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=None,
        docs="OKCoin API v5: WebSocket Public Channel, Order book channel",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = (
        "https://www.okcoin.com/api/v5/public/instruments?instType=SPOT",
    )
    websocket_url: ClassVar[str] = "wss://real.okcoin.com:8443/ws/v5/public"
