"""Bitfinex websocket v2 `book` (P0 precision, F0 frequency): channel ids, sequence and checksum.

Docs: "Bitfinex API v2: WebSocket Books", "WebSocket General" (`conf` flags, 25 public channels
a connection) and "WebSocket Checksum". The `conf` we send sets SEQ_ALL (every frame ends with one
number counting the whole connection, heartbeats too) and CHECKSUM (after each book update a
`[chanId, "cs", signed CRC32, seq]` frame). The checksum covers the 25 best bids and asks,
interleaved as "bidPrice:bidAmount:askPrice:askAmount:...", ask amounts negative, numbers written
out in fixed notation (Bitfinex's own client turns 1.7e-8 into 0.000000017). Levels are
`[price, count, amount]`: amount > 0 a bid, < 0 an ask, count 0 removes the level. Numbers are
JSON numbers, not text; their shortest repr is what the venue hashed. Frames carry no venue time
(that needs the TIMESTAMP flag, whose layout beside SEQ_ALL the docs leave open), so
`event_time` is the receive time.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from decimal import Decimal
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
from streams.venues.checksum import ChecksumBook
from streams.venues.okx import to_signed_32
from streams.venues.specs import SpecBuilder
from streams.venues.symbols import asset

__all__ = ["BitfinexParser", "bitfinex_checksum"]

WEBSOCKET_URL = "wss://api-pub.bitfinex.com/ws/2"
SEQ_ALL = 65536
CHECKSUM_FLAG = 131072
CHECKSUM_DEPTH = 25
BOOK_LENGTH = "100"  # allowed: 1, 25, 100, 250
MAX_CHANNELS = 25  # public channel subscriptions per connection

# Bitfinex's own codes for assets other venues spell out ("pub:map:currency:sym").
ALIASES = {
    "UST": "USDT", "UDC": "USDC", "TSD": "TUSD", "BCHN": "BCH", "IOT": "IOTA", "MNA": "MANA",
    "DSH": "DASH", "ALG": "ALGO", "ATO": "ATOM", "QTM": "QTUM",
}  # fmt: skip

Level = tuple[str, str]


def bitfinex_checksum(bids: Sequence[Level], asks: Sequence[Level]) -> int:
    """Bitfinex's signed CRC32 from text levels (best first, ask sizes positive)."""
    parts: list[str] = []
    for index in range(CHECKSUM_DEPTH):
        if index < len(bids):
            parts += [_fixed(bids[index][0]), _fixed(bids[index][1])]
        if index < len(asks):
            parts += [_fixed(asks[index][0]), "-" + _fixed(asks[index][1])]
    return to_signed_32(zlib.crc32(":".join(parts).encode()))


def _fixed(text: str) -> str:
    return format(Decimal(text), "f")


def _number_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return repr(value)


def _sequence(message: list[Any]) -> int | None:
    """SEQ_ALL's number, last in every frame (one element more than without the flag)."""
    plain_length = 3 if message[1] == "cs" else 2
    last = message[-1]
    if len(message) > plain_length and isinstance(last, int) and not isinstance(last, bool):
        return last
    return None


def _name(code: str) -> str:
    return asset(ALIASES.get(code.upper(), code))


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Specs from the `pub:list:pair:exchange` (spot) and `pub:list:pair:futures` (perpetual)
    lists: names only, so base and quote come from the pair and no tick is published."""
    list_name = build.url.rsplit("/", 1)[-1]
    perpetual = list_name.endswith(("future", "futures"))
    if not (perpetual or list_name.endswith("exchange")):
        return  # the currency list
    for pair in body[0]:
        symbol = "t" + pair
        at = f"{list_name}[{pair}]"
        try:
            base, quote = build.name(symbol).split("-")[:2]
        except ValueError:
            continue
        build.add(symbol, {
            "kind": ("linear" if perpetual else "spot", f"{at} ({list_name})"),
            "base": (base, f"{at} (pair)"), "quote": (quote, f"{at} (pair)"),
            "settlement": (quote, f"{at} (settles in the quote)"),
            "contract_size": (1.0, "(amounts are base units)"), "tick_size": (None, "(none)"),
        })  # fmt: skip


class BitfinexParser(BaseVenueParser):
    """Events are objects (`subscribed` names a channel id); data frames are `[chanId, ...]`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="BITFINEX",
        sequence_rule=SequenceRule.NONE,
        checksum="BITFINEX",
        snapshot_source=SnapshotSource.WEBSOCKET,
        max_subscriptions=MAX_CHANNELS,
        connection_sequence=True,
        docs="Bitfinex API v2: WebSocket Books; WebSocket General (conf flags); WebSocket Checksum",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = tuple(
        f"https://api-pub.bitfinex.com/v2/conf/pub:list:pair:{kind}"
        for kind in ("exchange", "futures")
    )
    read_instruments = staticmethod(read_instruments)

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or WEBSOCKET_URL
        self._channels: dict[int, str] = {}  # book channel id -> venue symbol, this connection

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """tBTCUSD -> BTC-USD, tAAVE:UST -> AAVE-USDT, tBTCF0:USTF0 -> BTC-USDT-PERP."""
        pair = venue_symbol[1:] if venue_symbol[:1] in ("t", "f") else venue_symbol
        if ":" in pair:
            base, quote = pair.split(":")
        elif len(pair) == 6:
            base, quote = pair[:3], pair[3:]
        else:
            raise ValueError(f"not a Bitfinex pair: {venue_symbol!r}")
        if base.endswith("F0") and quote.endswith("F0"):
            return f"{_name(base[:-2])}-{_name(quote[:-2])}-PERP"
        return f"{_name(base)}-{_name(quote)}"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if isinstance(message, dict):
            self._event(message)
            return EMPTY  # info, conf, subscribed, unsubscribed, error
        sequence = _sequence(message)
        venue_symbol = self._channels.get(message[0])
        body = message[1]
        if venue_symbol is None or body == "hb":
            return ParseResult(connection_sequence=sequence)  # heartbeats, ticker, trades
        if body == "cs":
            checksum = int(message[2])
            update = self._update(venue_symbol, (), False, receive_time_us, sequence, checksum)
        elif not body or isinstance(body[0], list):
            update = self._update(venue_symbol, body, True, receive_time_us, sequence)
        else:
            update = self._update(venue_symbol, [body], False, receive_time_us, sequence)
        return ParseResult(updates=(update,), connection_sequence=sequence)

    def _event(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "subscribed" and message.get("channel") == "book":
            self._channels[int(message["chanId"])] = message["symbol"]
        elif event == "unsubscribed":
            self._channels.pop(int(message["chanId"]), None)

    def _update(
        self,
        venue_symbol: str,
        levels: Sequence[Sequence[Any]],
        is_snapshot: bool,
        receive_time_us: int,
        sequence: int | None,
        checksum: int | None = None,
    ) -> VenueUpdate:
        sides: tuple[list[Level], list[Level]] = ([], [])
        for price, count, amount in levels:
            if amount == 0:
                raise ValueError(f"level {price} with amount 0 has no side")
            size = _number_text(abs(amount)) if count != 0 else "0"
            sides[0 if amount > 0 else 1].append((_number_text(price), size))
        bids, asks = sides
        delta = self.book_delta(
            venue_symbol,
            (tuple(float(price) for price, _ in bids), tuple(float(size) for _, size in bids)),
            (tuple(float(price) for price, _ in asks), tuple(float(size) for _, size in asks)),
            is_snapshot=is_snapshot,
            event_time=receive_time_us,
            receive_time=receive_time_us,
            sequence=sequence,
            checksum=checksum,
        )
        # the checksum comes in a frame of its own, after the update it covers
        return VenueUpdate(
            delta, raw_bids=tuple(bids), raw_asks=tuple(asks), checksum_only=checksum is not None
        )

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        conf = json.dumps({"event": "conf", "flags": SEQ_ALL + CHECKSUM_FLAG})
        return [conf, *(self._subscribe(symbol) for symbol in venue_symbols)]

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        """Unsubscribe the symbol's channel (if known) and subscribe again for a new snapshot."""
        channels = [key for key, symbol in self._channels.items() if symbol == venue_symbol]
        unsubscribe = [json.dumps({"event": "unsubscribe", "chanId": key}) for key in channels]
        return [*unsubscribe, self._subscribe(venue_symbol)]

    @staticmethod
    def _subscribe(venue_symbol: str) -> str:
        return json.dumps({
            "event": "subscribe", "channel": "book", "symbol": venue_symbol,
            "prec": "P0", "freq": "F0", "len": BOOK_LENGTH,
        })  # fmt: skip

    def new_checksum_book(self) -> ChecksumBook:
        return ChecksumBook(None)  # the library has no Bitfinex format: `checksum` computes it

    def checksum(self, book: ChecksumBook) -> int:
        return bitfinex_checksum(*book.top(CHECKSUM_DEPTH))
