"""OKX and OKCoin v5: `books` snapshots and updates with a CRC32 of the top 25."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from streams.fake_exchange.book import TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect
from streams.venues.okx import okx_checksum

__all__ = ["Okx"]


class Okx(Dialect):
    """v5 `{"arg":{"channel":"books","instId"},"action":"snapshot"|"update","data":[{..}]}`."""

    SNAPSHOT_DEPTH = 400

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.times: dict[str, str] = {}

    def key(self, message: Any) -> str | None:
        argument = message.get("arg", {}) if isinstance(message, dict) else {}
        if "data" in message and argument.get("channel") == "books":
            return str(argument["instId"])
        return ""

    def book(self, message: Any) -> BookFrame | None:
        if self.key(message) in ("", None):
            return None
        has_checksum = any("checksum" in body for body in message["data"])
        return BookFrame(message["arg"]["instId"], message["action"] == "snapshot", has_checksum)

    def apply(self, message: Any) -> bool:
        symbol = message["arg"]["instId"]
        for body in message["data"]:
            if message["action"] == "snapshot":
                self.books[symbol] = TextBook()
                self.books[symbol].replace(body["bids"], body["asks"])
            else:
                self.books[symbol].apply(body["bids"], body["asks"])
            self.times[symbol] = body["ts"]
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        operation = message.get("op") if isinstance(message, dict) else None
        if operation not in ("subscribe", "unsubscribe"):
            return [json.dumps({"event": "error", "code": "60012", "msg": "Invalid request"})]
        replies = []
        for argument in message.get("args", []):
            replies.append(json.dumps({"event": operation, "arg": argument}))
            if argument.get("channel") != "books":
                continue
            replies += self.subscribe(connection, argument["instId"], operation == "subscribe")
        return replies

    def snapshot(self, symbol: str) -> str:
        book = self.books[symbol]
        bids, asks = book.top_bids(self.SNAPSHOT_DEPTH), book.top_asks(self.SNAPSHOT_DEPTH)
        checksum = okx_checksum([(b[0], b[1]) for b in bids], [(a[0], a[1]) for a in asks])
        body = {"asks": asks, "bids": bids, "ts": self.times[symbol], "checksum": checksum}
        argument = {"channel": "books", "instId": symbol}
        return json.dumps({"arg": argument, "action": "snapshot", "data": [body]})

    def checksum(self, message: Any) -> int | None:
        sums = [int(body["checksum"]) for body in message["data"] if "checksum" in body]
        return sums[-1] if sums else None

    def corrupt(self, message: Any) -> str:
        for body in message["data"]:
            if "checksum" in body:
                body["checksum"] = int(body["checksum"]) + 1
        return json.dumps(message)
