"""KuCoin spot `/market/level2`: per-change sequence numbers + REST snapshot.

Docs: "KuCoin API: Spot, WebSocket, Level2 Market Data" and its calibration procedure: buffer the
updates, fetch the REST order book (its `sequence`), drop updates up to it, then each update's
`sequenceStart` must follow the previous `sequenceEnd`. That is Binance spot's bridge and chain
(U = sequenceStart, u = sequenceEnd), so the same `SequenceRule` serves. A change priced "0" only
advances the sequence ("ignore the price, update the sequence"); it carries no level. The socket
URL comes with a token from `POST /api/v1/bullet-public` (`bullet_websocket_url`), whose server
entry also says how often the client must send `{"type":"ping"}` (`pingInterval`, ms) before the
venue closes the socket; the venue answers `pong`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from streams.core.sync import SequenceRule
from streams.venues.base import (
    EMPTY,
    BaseVenueParser,
    Capabilities,
    ParseResult,
    SnapshotSource,
    SocketAddress,
    VenueUpdate,
    load_json,
    parse_levels,
)
from streams.venues.exceptions import ParseError
from streams.venues.specs import SpecBuilder, positive_number
from streams.venues.symbols import asset

__all__ = ["BULLET_URL", "KucoinParser", "bullet_websocket_url"]

TOPIC = "/market/level2:"
MAX_TOPICS = 100  # "exceed max subscription count limitation of 100 per session" (error 509)
SYMBOLS_PER_TOPIC = 100  # one topic lists at most 100 symbols
REST_URL = "https://api.kucoin.com/api/v3/market/orderbook/level2"
BULLET_URL = "https://api.kucoin.com/api/v1/bullet-public"


def bullet_websocket_url(bullet_body: str | bytes, connect_id: str) -> str:
    """The socket address from a `bullet-public` response: first server, its token, an id."""
    return bullet_socket(bullet_body, connect_id).url


def bullet_socket(bullet_body: str | bytes, connect_id: str) -> SocketAddress:
    """The first server of a `bullet-public` response with its token, and its ping interval."""
    try:
        data = load_json(bullet_body)["data"]
        server = data["instanceServers"][0]
        url = f"{server['endpoint']}?token={data['token']}&connectId={connect_id}"
        interval = server.get("pingInterval")
        return SocketAddress(url, float(interval) / 1000 if interval else None)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ParseError(f"KUCOIN: not a bullet-public response ({error})") from None


def _levels(changes: Sequence[Sequence[Any]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    # price "0": a sequence-only change, no level
    return parse_levels(change for change in changes if float(change[0]) != 0.0)


def read_instruments(build: SpecBuilder, body: Any) -> None:
    """Contract specs from `GET /api/v1/symbols` (spot pairs)."""
    for item in body.get("data", []):
        symbol = item["symbol"]
        at = f"data[symbol={symbol}]"
        base, quote = asset(item["baseCurrency"]), asset(item["quoteCurrency"])
        build.add(symbol, {
            "kind": ("spot", "(spot symbols)"), "base": (base, f"{at}.baseCurrency"),
            "quote": (quote, f"{at}.quoteCurrency"), "settlement": (quote, f"{at}.quoteCurrency"),
            "tick_size": (positive_number(item.get("priceIncrement")), f"{at}.priceIncrement"),
        })  # fmt: skip


class KucoinParser(BaseVenueParser):
    """`{"type":"message","subject":"trade.l2update","data":{sequenceStart,sequenceEnd,..}}`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        exchange="KUCOIN",
        sequence_rule=SequenceRule.BINANCE_SPOT,
        checksum=None,
        snapshot_source=SnapshotSource.REST,
        max_subscriptions=MAX_TOPICS,
        docs="KuCoin API: Spot WebSocket, Level2 Market Data (calibration procedure)",
    )
    instrument_endpoints: ClassVar[tuple[str, ...]] = ("https://api.kucoin.com/api/v1/symbols",)
    read_instruments = staticmethod(read_instruments)

    websocket_url: ClassVar[str] = "wss://ws-api-spot.kucoin.com/"  # plus ?token= from BULLET_URL
    token_url: ClassVar[str | None] = BULLET_URL

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint or self.websocket_url

    @staticmethod
    def normalise(venue_symbol: str) -> str:
        """BTC-USDT stays BTC-USDT (asset aliases applied)."""
        base, quote = venue_symbol.split("-")
        return f"{asset(base)}-{asset(quote)}"

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        if not isinstance(message, dict) or message.get("subject") != "trade.l2update":
            return EMPTY  # welcome, ack, pong, ticker, match, candles
        data = message["data"]
        venue_symbol = data["symbol"]
        first, last = int(data["sequenceStart"]), int(data["sequenceEnd"])
        changes = data["changes"]
        bid_prices, bid_sizes = _levels(changes["bids"])
        ask_prices, ask_sizes = _levels(changes["asks"])
        delta = self.book_delta(
            venue_symbol,
            (bid_prices, bid_sizes),
            (ask_prices, ask_sizes),
            is_snapshot=False,
            # `time` (ms) since 2022; the 2021 recording has none
            event_time=int(data["time"]) * 1000 if "time" in data else receive_time_us,
            receive_time=receive_time_us,
            sequence=last,
            prev_sequence=first - 1,
        )
        return ParseResult(updates=(VenueUpdate(delta, first_sequence=first),))

    def socket_address(self, token_body: str | bytes, connect_id: str) -> SocketAddress:
        return bullet_socket(token_body, connect_id)

    def ping_message(self, number: int) -> str:
        return json.dumps({"id": str(number), "type": "ping"})

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        return [
            json.dumps({
                "id": index, "type": "subscribe", "privateChannel": False, "response": True,
                "topic": TOPIC + ",".join(venue_symbols[index : index + SYMBOLS_PER_TOPIC]),
            })
            for index in range(0, len(venue_symbols), SYMBOLS_PER_TOPIC)
        ]  # fmt: skip

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        return []  # the topic stays up; a resync only needs a new REST snapshot

    def snapshot_url(self, venue_symbol: str) -> str | None:
        return f"{REST_URL}?symbol={venue_symbol}"

    def snapshot_symbol(self, url: str) -> str | None:
        if not url.startswith(REST_URL):
            return None
        symbols = parse_qs(urlsplit(url).query).get("symbol")
        return symbols[0] if symbols else None

    def parse_snapshot(
        self, body: str | bytes, venue_symbol: str, receive_time_us: int
    ) -> VenueUpdate:
        """`{"code":"200000","data":{time, sequence, bids, asks}}`; another code is an error."""
        message = load_json(body)
        try:
            if message.get("code") != "200000":
                raise ParseError(f"KUCOIN snapshot {venue_symbol}: code {message.get('code')}")
            data = message["data"]
            bid_prices, bid_sizes = parse_levels(data["bids"])
            ask_prices, ask_sizes = parse_levels(data["asks"])
            delta = self.book_delta(
                venue_symbol,
                (bid_prices, bid_sizes),
                (ask_prices, ask_sizes),
                is_snapshot=True,
                event_time=int(data["time"]) * 1000,
                receive_time=receive_time_us,
                sequence=int(data["sequence"]),
            )
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as error:
            raise ParseError(f"KUCOIN snapshot {venue_symbol}: {error}") from None
        return VenueUpdate(delta)
