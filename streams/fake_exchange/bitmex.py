"""BitMEX realtime `orderBookL2`: a `partial` on subscribe, then rows by level id."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from streams.fake_exchange.book import TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Bitmex"]

TABLE = "orderBookL2"
WELCOME = {
    "info": "Welcome to the BitMEX Realtime API.",
    "docs": "https://www.bitmex.com/app/wsAPI",
}


class Bitmex(Dialect):
    """The venue keeps every level as a row (id, side, size, price); update rows omit the price."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.rows: dict[str, dict[int, dict[str, Any]]] = {}  # symbol -> id -> row

    def key(self, message: Any) -> str | None:
        frame = self.book(message)
        return frame.symbol if frame is not None else ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, dict) or message.get("table") != TABLE or not message["data"]:
            return None
        return BookFrame(str(message["data"][0]["symbol"]), message["action"] == "partial")

    def apply(self, message: Any) -> bool:
        action = message["action"]
        if action == "partial":
            for symbol in {row["symbol"] for row in message["data"]}:
                self.rows[symbol], self.books[symbol] = {}, TextBook()
        for row in message["data"]:
            rows, level_id = self.rows[row["symbol"]], int(row["id"])
            if action in ("partial", "insert"):
                rows[level_id] = dict(row)
            elif action == "update":
                rows[level_id] = {**rows[level_id], **row}  # update rows omit the price
            else:
                rows[level_id] = {**rows[level_id], "size": 0}
            self._set(rows[level_id])
            if action == "delete":
                del rows[level_id]
        return True

    def _set(self, row: Mapping[str, Any]) -> None:
        """Mirror one row into the true book, keyed by its price text."""
        level = [repr(float(row["price"])), repr(float(row["size"]))]
        bids, asks = ([level], []) if row["side"] == "Buy" else ([], [level])
        self.books[row["symbol"]].apply(bids, asks)

    def on_connect(self, query: Mapping[str, str], connection: Connection) -> list[str]:
        return [json.dumps(WELCOME)]

    def control(self, message: Any, connection: Connection) -> list[str]:
        operation = message.get("op") if isinstance(message, dict) else None
        if operation not in ("subscribe", "unsubscribe"):
            return [json.dumps({"status": 400, "error": "Unknown or unsupported op"})]
        replies = []
        for topic in message.get("args", []):
            table, _, symbol = str(topic).partition(":")
            replies.append(json.dumps({"success": True, operation: topic, "request": message}))
            if table == TABLE:
                replies += self.subscribe(connection, symbol, operation == "subscribe")
        return replies

    def snapshot(self, symbol: str) -> str:
        rows = sorted(self.rows[symbol].values(), key=lambda row: int(row["id"]))
        body = {"table": TABLE, "action": "partial", "keys": ["symbol", "id", "side"],
                "filter": {"symbol": symbol}, "data": rows}  # fmt: skip
        return json.dumps(body)
