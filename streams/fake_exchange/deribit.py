"""Deribit v2 `book.{instrument}.raw` (JSON-RPC): a snapshot on subscribe, chained changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Deribit"]

PREFIX = "book."


def _text(levels: Sequence[Sequence[Any]]) -> list[Level]:
    """["new"|"change"|"delete", price, amount] -> [price, size] (a delete is size 0)."""
    return [
        [repr(float(level[1])), "0" if level[0] == "delete" else repr(float(level[2]))]
        for level in levels
    ]


def _numbers(levels: Sequence[Level]) -> list[list[Any]]:
    return [["new", float(level[0]), float(level[1])] for level in levels]


class Deribit(Dialect):
    """Answers subscribe, unsubscribe, set_heartbeat and test requests by their `id`."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.last: dict[str, tuple[str, int, int]] = {}  # instrument -> (channel, change_id, ts)

    def key(self, message: Any) -> str | None:
        frame = self.book(message)
        return frame.symbol if frame is not None else ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, dict) or message.get("method") != "subscription":
            return None
        params = message["params"]
        if not str(params.get("channel", "")).startswith(PREFIX):
            return None
        data = params["data"]
        return BookFrame(str(data["instrument_name"]), is_snapshot=data["type"] == "snapshot")

    def apply(self, message: Any) -> bool:
        channel, data = message["params"]["channel"], message["params"]["data"]
        instrument, change = data["instrument_name"], int(data["change_id"])
        if data["type"] == "snapshot":
            self.books[instrument] = TextBook()
            self.books[instrument].replace(_text(data["bids"]), _text(data["asks"]))
        elif change <= self.last[instrument][1]:
            return False
        else:
            self.books[instrument].apply(_text(data["bids"]), _text(data["asks"]))
        self.last[instrument] = (channel, change, int(data["timestamp"]))
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        method = message.get("method") if isinstance(message, dict) else None
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message.get("id")}
        channels = [str(name) for name in message.get("params", {}).get("channels", [])]
        if method in ("public/set_heartbeat", "public/test"):
            return [json.dumps({**reply, "result": "ok"})]
        if method not in ("public/subscribe", "public/unsubscribe"):
            error = {"code": -32601, "message": "Method not found"}
            return [json.dumps({**reply, "error": error})]
        replies = [json.dumps({**reply, "result": channels})]
        for channel in channels:
            instrument = channel.removeprefix(PREFIX).rsplit(".", 1)[0]
            replies += self.subscribe(connection, instrument, method == "public/subscribe")
        return replies

    def snapshot(self, instrument: str) -> str:
        book, (channel, change, timestamp) = self.books[instrument], self.last[instrument]
        data = {
            "type": "snapshot", "timestamp": timestamp, "instrument_name": instrument,
            "change_id": change, "bids": _numbers(book.top_bids()),
            "asks": _numbers(book.top_asks()),
        }  # fmt: skip
        params = {"channel": channel, "data": data}
        return json.dumps({"jsonrpc": "2.0", "method": "subscription", "params": params})
