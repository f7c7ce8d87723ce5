"""Bybit v5 `orderbook.{depth}.{symbol}`: a snapshot on subscribe, then deltas with contiguous u."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from streams.fake_exchange.book import TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Bybit"]

PREFIX = "orderbook."


class Bybit(Dialect):
    """The venue keeps the subscribed depth (the topic's middle part) and answers `ping` ops."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.last: dict[str, tuple[str, int, int, int]] = {}  # symbol -> (topic, u, seq, ts)

    def key(self, message: Any) -> str | None:
        frame = self.book(message)
        return frame.symbol if frame is not None else ""

    def book(self, message: Any) -> BookFrame | None:
        topic = message.get("topic") if isinstance(message, dict) else None
        if not isinstance(topic, str) or not topic.startswith(PREFIX):
            return None
        return BookFrame(str(message["data"]["s"]), is_snapshot=message["type"] == "snapshot")

    def apply(self, message: Any) -> bool:
        data, topic = message["data"], message["topic"]
        symbol, update = data["s"], int(data["u"])
        if message["type"] == "snapshot":
            self.books[symbol] = TextBook(int(topic.split(".")[1]))
            self.books[symbol].replace(data["b"], data["a"])
        elif update <= self.last[symbol][1]:
            return False
        else:
            self.books[symbol].apply(data["b"], data["a"])
        self.last[symbol] = (topic, update, int(data.get("seq", 0)), int(message["ts"]))
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        operation = message.get("op") if isinstance(message, dict) else None
        reply = {"success": True, "ret_msg": "", "conn_id": "fake", "req_id": "", "op": operation}
        if operation == "ping":
            return [json.dumps({**reply, "ret_msg": "pong"})]
        if operation not in ("subscribe", "unsubscribe"):
            return [json.dumps({**reply, "success": False, "ret_msg": "unknown op"})]
        replies = [json.dumps(reply)]
        for topic in message.get("args", []):
            symbol = str(topic).rsplit(".", 1)[-1]
            replies += self.subscribe(connection, symbol, operation == "subscribe")
        return replies

    def snapshot(self, symbol: str) -> str:
        book, (topic, update, seq, ts) = self.books[symbol], self.last[symbol]
        data = {"s": symbol, "b": book.top_bids(), "a": book.top_asks(), "u": update, "seq": seq}
        return json.dumps({"topic": topic, "type": "snapshot", "ts": ts, "data": data, "cts": ts})
