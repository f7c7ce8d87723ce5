"""Huobi/HTX spot `market.<symbol>.depth.step0`: gzip frames, each push the whole top 150, and
`{"ping": ts}` heartbeats the client must answer with `{"pong": ts}`.

Every push stands alone, so none is the venue's "snapshot" here: a withheld push is healed by the
next one (the client publishes the difference), and nothing is there to notice a gap.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Huobi"]

SUFFIX = ".depth.step0"


def _text(levels: Sequence[Sequence[float]]) -> list[Level]:
    return [[repr(float(price)), repr(float(size))] for price, size in levels]


def _numbers(levels: Sequence[Level]) -> list[list[float]]:
    return [[float(level[0]), float(level[1])] for level in levels]


class Huobi(Dialect):
    """Answers `sub`/`unsub` by `id` and checks every `pong` against the pings it sent."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.times: dict[str, int] = {}
        self.pings: set[int] = set()
        self.heartbeats = 0  # pings fed to the open connections
        self.answered = 0
        self.wrong_answers = 0

    def text(self, frame: str | bytes) -> str | None:
        return gzip.decompress(frame).decode() if isinstance(frame, bytes) else frame

    def wire(self, text: str) -> str | bytes:
        return gzip.compress(text.encode())

    def key(self, message: Any) -> str | None:
        if isinstance(message, dict) and "ping" in message:
            self.pings.add(int(message["ping"]))
            self.heartbeats += 1
            return None  # every connection
        frame = self.book(message)
        return frame.symbol if frame is not None else ""

    def book(self, message: Any) -> BookFrame | None:
        channel = str(message.get("ch", "")) if isinstance(message, dict) else ""
        if not channel.endswith(SUFFIX) or "tick" not in message:
            return None
        return BookFrame(channel.split(".")[1], is_snapshot=False)

    def apply(self, message: Any) -> bool:
        symbol = message["ch"].split(".")[1]
        self.books.setdefault(symbol, TextBook()).replace(
            _text(message["tick"]["bids"]), _text(message["tick"]["asks"])
        )
        self.times[symbol] = int(message["ts"])
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        if not isinstance(message, dict):
            return []
        if "pong" in message:
            if message["pong"] in self.pings:
                self.answered += 1
            else:
                self.wrong_answers += 1
            return []
        channel = str(message.get("sub") or message.get("unsub") or "")
        reply = {"id": message.get("id"), "status": "ok", "ts": 0}
        if not channel.endswith(SUFFIX):
            error = {"status": "error", "err-code": "bad-request", "err-msg": "invalid topic"}
            return [json.dumps({**reply, **error})]
        subscribe = "sub" in message
        answer = {**reply, ("subbed" if subscribe else "unsubbed"): channel}
        return [json.dumps(answer), *self.subscribe(connection, channel.split(".")[1], subscribe)]

    def snapshot(self, symbol: str) -> str:
        book = self.books[symbol]
        tick = {
            "bids": _numbers(book.top_bids()), "asks": _numbers(book.top_asks()),
            "ts": self.times[symbol], "version": 0,
        }  # fmt: skip
        return json.dumps(
            {"ch": f"market.{symbol}{SUFFIX}", "ts": self.times[symbol], "tick": tick}
        )
