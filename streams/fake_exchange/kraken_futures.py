"""Kraken Futures v1 `book`: a `book_snapshot` on subscribe, then one level per frame with `seq`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["KrakenFutures"]

FEED, SNAPSHOT_FEED = "book", "book_snapshot"


def _text(levels: Sequence[Mapping[str, float]]) -> list[Level]:
    return [[repr(float(level["price"])), repr(float(level["qty"]))] for level in levels]


def _numbers(levels: Sequence[Level]) -> list[dict[str, float]]:
    return [{"price": float(level[0]), "qty": float(level[1])} for level in levels]


class KrakenFutures(Dialect):
    """Product ids are upper case on the wire; subscriptions may spell them in lower case."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.last: dict[str, tuple[int, int]] = {}  # product -> (seq, timestamp)

    def key(self, message: Any) -> str | None:
        if isinstance(message, dict) and self.book(message) is not None:
            return str(message["product_id"])
        return ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, dict) or "event" in message:
            return None
        feed = message.get("feed")
        if feed not in (FEED, SNAPSHOT_FEED):
            return None
        return BookFrame(str(message["product_id"]), is_snapshot=feed == SNAPSHOT_FEED)

    def apply(self, message: Any) -> bool:
        product, seq = message["product_id"], int(message["seq"])
        if message["feed"] == SNAPSHOT_FEED:
            self.books[product] = TextBook()
            self.books[product].replace(_text(message["bids"]), _text(message["asks"]))
        elif seq <= self.last[product][0]:
            return False
        else:
            level = _text([message])
            bids, asks = (level, []) if message["side"] == "buy" else ([], level)
            self.books[product].apply(bids, asks)
        self.last[product] = (seq, int(message["timestamp"]))
        return True

    def on_connect(self, query: Mapping[str, str], connection: Connection) -> list[str]:
        return [json.dumps({"event": "info", "version": 1})]

    def control(self, message: Any, connection: Connection) -> list[str]:
        event = message.get("event") if isinstance(message, dict) else None
        if event not in ("subscribe", "unsubscribe") or message.get("feed") != FEED:
            return [json.dumps({"event": "alert", "message": "Invalid feed"})]
        replies = []
        for product in (str(name).upper() for name in message.get("product_ids", [])):
            done = "subscribed" if event == "subscribe" else "unsubscribed"
            replies.append(json.dumps({"event": done, "feed": FEED, "product_ids": [product]}))
            replies += self.subscribe(connection, product, event == "subscribe")
        return replies

    def snapshot(self, product: str) -> str:
        book, (seq, timestamp) = self.books[product], self.last[product]
        body = {
            "feed": SNAPSHOT_FEED, "product_id": product, "timestamp": timestamp, "seq": seq,
            "tickSize": None, "bids": _numbers(book.top_bids()), "asks": _numbers(book.top_asks()),
        }  # fmt: skip
        return json.dumps(body)
