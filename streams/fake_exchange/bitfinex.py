"""Bitfinex v2 `book`: channel ids, the `conf` flags SEQ_ALL and CHECKSUM, `cs` frames."""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, ConnectionNumbers, Dialect
from streams.venues.bitfinex import CHECKSUM_FLAG, SEQ_ALL, bitfinex_checksum
from streams.venues.okx import to_signed_32

__all__ = ["Bitfinex"]

CHECKSUM_DEPTH = 25
INFO = {"event": "info", "version": 2, "serverId": "fake", "platform": {"status": 1}}


class Bitfinex(Dialect):
    """Events are objects; data frames `[chanId, body, seq]`, levels `[price, count, amount]`.

    The book channel ids are the recording's, learned from its `subscribed` events as its frames
    are read. The venue numbers every data frame of a connection from 1 when the connection's
    `conf` asked for SEQ_ALL, and follows each book frame with `[chanId, "cs", CRC32, seq]` when
    it asked for CHECKSUM: the checksum of the true book, computed as the parser verifies it.
    """

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.channels: dict[int, str] = {}  # book channel id -> symbol
        self.numbers = ConnectionNumbers(1)
        self.flags: weakref.WeakKeyDictionary[Connection, int] = weakref.WeakKeyDictionary()

    def key(self, message: Any) -> str | None:
        if isinstance(message, dict):
            self._learn(message)
            return ""  # the recording's own events: this venue answers each connection itself
        return self.channels.get(message[0], "")

    def book(self, message: Any) -> BookFrame | None:
        if isinstance(message, dict):
            self._learn(message)
            return None
        symbol = self.channels.get(message[0])
        if symbol is None or message[1] == "hb":
            return None
        body = message[1]
        return BookFrame(symbol, not body or isinstance(body[0], list), has_checksum=True)

    def _learn(self, event: dict[str, Any]) -> None:
        if event.get("event") == "subscribed" and event.get("channel") == "book":
            self.channels[int(event["chanId"])] = event["symbol"]

    def apply(self, message: Any) -> bool:
        symbol, body = self.channels[message[0]], message[1]
        snapshot = not body or isinstance(body[0], list)
        sides: tuple[list[Level], list[Level]] = ([], [])
        for price, count, amount in body if snapshot else [body]:
            size = repr(abs(amount)) if count != 0 else "0"
            sides[0 if amount > 0 else 1].append([repr(price), size, repr(count)])
        if snapshot:
            self.books[symbol] = TextBook()
            self.books[symbol].replace(*sides)
        else:
            self.books[symbol].apply(*sides)
        return True

    def on_connect(self, query: Mapping[str, str], connection: Connection) -> list[str]:
        return [json.dumps(INFO)]

    def control(self, message: Any, connection: Connection) -> list[str]:
        event = message.get("event") if isinstance(message, dict) else None
        if event == "conf":
            self.flags[connection] = int(message.get("flags", 0))
            return [json.dumps({"event": "conf", "status": "OK", "flags": message.get("flags")})]
        if event == "ping":
            return [json.dumps({"event": "pong", "ts": 0, "cid": message.get("cid")})]
        if event == "unsubscribe" and message.get("chanId") in self.channels:
            connection.keys.discard(self.channels[message["chanId"]])
            return [json.dumps({"event": "unsubscribed", "status": "OK",
                                "chanId": message["chanId"]})]  # fmt: skip
        symbol = message.get("symbol") if event == "subscribe" else None
        ids = [key for key, name in self.channels.items() if name == symbol]
        if message.get("channel") != "book" or not ids:
            error = {"event": "error", "msg": "subscribe: invalid", "code": 10300}
            return [json.dumps({**error, "request": message})]
        subscribed = {
            "event": "subscribed", "channel": "book", "chanId": ids[0], "symbol": symbol,
            **{k: message.get(k) for k in ("prec", "freq", "len")}, "pair": str(symbol)[1:],
        }  # fmt: skip
        replies = [json.dumps(subscribed), *self.subscribe(connection, str(symbol))]
        return replies + (self._checksum_frame(str(symbol)) if len(replies) > 1 else [])

    def snapshot(self, symbol: str) -> str:
        book = self.books[symbol]
        levels = [f"[{b[0]},{b[2]},{b[1]}]" for b in book.top_bids()]
        levels += [f"[{a[0]},{a[2]},-{a[1]}]" for a in book.top_asks()]
        return f"[{self._channel(symbol)},[{','.join(levels)}],0]"

    def trailer(self, message: Any, corrupt: bool = False) -> list[str]:
        return self._checksum_frame(self.channels[message[0]], corrupt)

    def _checksum_frame(self, symbol: str, corrupt: bool = False) -> list[str]:
        book = self.books[symbol]
        bids, asks = (
            [(level[0], level[1]) for level in side]
            for side in (book.top_bids(CHECKSUM_DEPTH), book.top_asks(CHECKSUM_DEPTH))
        )
        checksum = bitfinex_checksum(bids, asks)
        if corrupt:
            checksum = to_signed_32((checksum + 1) % (1 << 32))
        return [json.dumps([self._channel(symbol), "cs", checksum, 0])]

    def _channel(self, symbol: str) -> int:
        return next(key for key, name in self.channels.items() if name == symbol)

    def corrupt(self, message: Any) -> str:
        return json.dumps(message)  # the update as it was; its `cs` frame carries the fault

    def stamp(self, connection: Connection, text: str) -> str | None:
        if not text.startswith("["):
            return text  # events carry no sequence number
        flags = self.flags.get(connection, 0)
        if '"cs"' in text[:40] and not flags & CHECKSUM_FLAG:
            return None
        body = text[: text.rindex(",")]  # the frame without its sequence number
        return f"{body},{self.numbers.next(connection)}]" if flags & SEQ_ALL else body + "]"
