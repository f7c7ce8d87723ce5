"""Crypto.com Exchange v2 `book.<instrument>.150`: each push the whole top 150, and
`public/heartbeat` requests the client must answer with `public/respond-heartbeat`, same id.

Every push stands alone, so none is the venue's "snapshot" here: a withheld push is healed by the
next one (the client publishes the difference), and nothing is there to notice a gap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["CryptoCom"]

PREFIX = "book."


def _text(levels: Sequence[Sequence[float]]) -> list[Level]:
    return [[repr(float(level[0])), repr(float(level[1])), str(level[2])] for level in levels]


def _numbers(levels: Sequence[Level]) -> list[list[float | int]]:
    return [[float(level[0]), float(level[1]), int(level[2])] for level in levels]


class CryptoCom(Dialect):
    """Answers (un)subscribe by `id` and checks every heartbeat answer against the ids it sent."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.times: dict[str, int] = {}
        self.depths: dict[str, str] = {}
        self.beats: set[int] = set()
        self.heartbeats = 0  # heartbeats fed to the open connections
        self.answered = 0
        self.wrong_answers = 0

    def key(self, message: Any) -> str | None:
        if isinstance(message, dict) and message.get("method") == "public/heartbeat":
            self.beats.add(int(message["id"]))
            self.heartbeats += 1
            return None  # every connection
        frame = self.book(message)
        return frame.symbol if frame is not None else ""

    def book(self, message: Any) -> BookFrame | None:
        result = message.get("result") if isinstance(message, dict) else None
        if not isinstance(result, dict) or result.get("channel") != "book":
            return None
        return BookFrame(str(result["instrument_name"]), is_snapshot=False)

    def apply(self, message: Any) -> bool:
        result = message["result"]
        symbol = result["instrument_name"]
        for body in result["data"]:
            self.books.setdefault(symbol, TextBook()).replace(
                _text(body["bids"]), _text(body["asks"])
            )
            self.times[symbol] = int(body["t"])
        self.depths[symbol] = result["subscription"]
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        method = message.get("method") if isinstance(message, dict) else None
        if method == "public/respond-heartbeat":
            if message.get("id") in self.beats:
                self.answered += 1
            else:
                self.wrong_answers += 1
            return []
        reply: dict[str, Any] = {"id": message.get("id"), "method": method}
        if method not in ("subscribe", "unsubscribe"):
            return [json.dumps({**reply, "code": 10004, "message": "BAD_REQUEST"})]
        replies = [json.dumps({**reply, "code": 0})]
        for channel in message.get("params", {}).get("channels", []):
            if str(channel).startswith(PREFIX):
                instrument = str(channel).removeprefix(PREFIX).rsplit(".", 1)[0]
                replies += self.subscribe(connection, instrument, method == "subscribe")
        return replies

    def snapshot(self, symbol: str) -> str:
        book = self.books[symbol]
        body = {
            "bids": _numbers(book.top_bids()), "asks": _numbers(book.top_asks()),
            "t": self.times[symbol],
        }  # fmt: skip
        result = {
            "instrument_name": symbol, "subscription": self.depths[symbol], "channel": "book",
            "depth": 150, "data": [body],
        }  # fmt: skip
        return json.dumps({"code": 0, "method": "subscribe", "result": result})
