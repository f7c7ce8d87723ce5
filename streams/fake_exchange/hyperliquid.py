"""Hyperliquid `l2Book`: each push the whole top 20 a side, levels `{px, sz, n}` best first.

Every push stands alone, so none is the venue's "snapshot" here: a withheld push is healed by the
next one (the client publishes the difference), and nothing is there to notice a gap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Hyperliquid"]

CHANNEL = "l2Book"


def _text(levels: Sequence[dict[str, Any]]) -> list[Level]:
    return [[str(level["px"]), str(level["sz"]), str(level["n"])] for level in levels]


def _objects(levels: Sequence[Level]) -> list[dict[str, Any]]:
    return [{"px": level[0], "sz": level[1], "n": int(level[2])} for level in levels]


class Hyperliquid(Dialect):
    """Answers `subscribe`/`unsubscribe` with `subscriptionResponse`, `ping` with `pong`."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.times: dict[str, int] = {}

    def key(self, message: Any) -> str | None:
        frame = self.book(message)
        return frame.symbol if frame is not None else ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, dict) or message.get("channel") != CHANNEL:
            return None
        return BookFrame(str(message["data"]["coin"]), is_snapshot=False)

    def apply(self, message: Any) -> bool:
        data = message["data"]
        bids, asks = data["levels"]
        self.books.setdefault(data["coin"], TextBook()).replace(_text(bids), _text(asks))
        self.times[data["coin"]] = int(data["time"])
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        method = message.get("method") if isinstance(message, dict) else None
        if method == "ping":
            return [json.dumps({"channel": "pong"})]
        subscription = message.get("subscription") if method else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(subscription, dict):
            error = f"Invalid subscription {json.dumps(message)}"
            return [json.dumps({"channel": "error", "data": error})]
        reply = {"channel": "subscriptionResponse", "data": message}
        if subscription.get("type") != CHANNEL:
            return [json.dumps(reply)]
        coin = str(subscription.get("coin"))
        return [json.dumps(reply), *self.subscribe(connection, coin, method == "subscribe")]

    def snapshot(self, coin: str) -> str:
        book = self.books[coin]
        levels = [_objects(book.top_bids()), _objects(book.top_asks())]
        data = {"coin": coin, "time": self.times[coin], "levels": levels}
        return json.dumps({"channel": CHANNEL, "data": data}, separators=(",", ":"))
