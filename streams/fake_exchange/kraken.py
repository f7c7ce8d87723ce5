"""Kraken spot v1: channel-numbered book frames, websocket snapshots, CRC32 of the top 10."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from streams.fake_exchange.book import TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Kraken"]


class Kraken(Dialect):
    """Spot v1: `[channelID, {"as","bs"} | {"a"},{"b","c"}, "book-N", pair]` and events."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.channels: dict[str, int] = {}
        self.channel_name = "book-1000"

    def key(self, message: Any) -> str | None:
        if isinstance(message, list):
            return message[-1] if str(message[-2]).startswith("book") else ""
        return None if message.get("event") == "heartbeat" else ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, list) or not str(message[-2]).startswith("book"):
            return None
        first = message[1]
        has_checksum = any("c" in body for body in message[1:-2])
        return BookFrame(message[-1], "as" in first or "bs" in first, has_checksum)

    def apply(self, message: Any) -> bool:
        pair, bodies = message[-1], message[1:-2]
        self.channels[pair] = message[0]
        self.channel_name = message[-2]
        if "as" in bodies[0] or "bs" in bodies[0]:
            depth = int(self.channel_name.rsplit("-", 1)[-1])
            self.books[pair] = TextBook(depth)
            self.books[pair].replace(bodies[0].get("bs", []), bodies[0].get("as", []))
            return True
        for body in bodies:
            self.books[pair].apply(body.get("b", []), body.get("a", []))
        return True

    def on_connect(self, query: Mapping[str, str], connection: Connection) -> list[str]:
        status = {
            "connectionID": 1,
            "event": "systemStatus",
            "status": "online",
            "version": "1.8.3",
        }
        return [json.dumps(status)]

    def control(self, message: Any, connection: Connection) -> list[str]:
        event = message.get("event") if isinstance(message, dict) else None
        if event == "ping":
            return [json.dumps({"event": "pong", "reqid": message.get("reqid")})]
        if event not in ("subscribe", "unsubscribe"):
            return [json.dumps({"event": "error", "errorMessage": "Unsupported event"})]
        replies = []
        for pair in message.get("pair", []):
            status = {
                "channelID": self.channels.get(pair, 0),
                "channelName": self.channel_name,
                "event": "subscriptionStatus",
                "pair": pair,
                "status": "subscribed" if event == "subscribe" else "unsubscribed",
                "subscription": message.get("subscription", {}),
            }
            replies.append(json.dumps(status))
            if event == "unsubscribe":
                connection.keys.discard(pair)
                continue
            connection.keys.add(pair)
            book = self.books.get(pair)
            if book is not None:  # else the recorded snapshot is still ahead in the feed
                depth = book.depth
                body = {"as": book.top_asks(depth), "bs": book.top_bids(depth)}
                replies.append(json.dumps([self.channels[pair], body, self.channel_name, pair]))
        return replies

    def checksum(self, message: Any) -> int | None:
        sums = [int(body["c"]) for body in message[1:-2] if "c" in body]
        return sums[-1] if sums else None

    def corrupt(self, message: Any) -> str:
        for body in message[1:-2]:
            if "c" in body:
                body["c"] = str((int(body["c"]) + 1) % (1 << 32))
        return json.dumps(message)
