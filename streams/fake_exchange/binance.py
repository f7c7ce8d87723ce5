"""Binance spot, US, USD-M and COIN-M: combined streams and REST depth snapshots."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streams.fake_exchange.book import TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Binance"]


class Binance(Dialect):
    """Combined streams `{"stream","data"}`; snapshots from `GET /api/v3|fapi/v1|dapi/v1/depth`."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.last: dict[str, int] = {}
        self.extra: dict[str, dict[str, Any]] = {}
        for url, body in http:
            symbol = parse_qs(urlsplit(url).query).get("symbol", [""])[0]
            snapshot = json.loads(body)
            if symbol and "lastUpdateId" in snapshot:
                self.books[symbol] = TextBook()
                self.books[symbol].replace(snapshot["bids"], snapshot["asks"])
                self.last[symbol] = int(snapshot["lastUpdateId"])
                self.extra[symbol] = {k: snapshot[k] for k in ("E", "T") if k in snapshot}

    def key(self, message: Any) -> str | None:
        return message.get("stream", "") if isinstance(message, dict) else ""

    def book(self, message: Any) -> BookFrame | None:
        data = message.get("data") if isinstance(message, dict) else None
        if isinstance(data, dict) and data.get("e") == "depthUpdate" and data["s"] in self.books:
            return BookFrame(data["s"], is_snapshot=False)
        return None

    def apply(self, message: Any) -> bool:
        data = message["data"]
        symbol = data["s"]
        if int(data["u"]) <= self.last[symbol]:
            return False  # already in the snapshot
        self.books[symbol].apply(data["b"], data["a"])
        self.last[symbol] = int(data["u"])
        extra = self.extra[symbol]
        for name in extra:
            extra[name] = data.get(name, extra[name])
        return True

    def on_connect(self, query: Mapping[str, str], connection: Connection) -> list[str]:
        streams = query.get("streams", "")
        connection.keys.update(name for name in streams.split("/") if name)
        return []

    def control(self, message: Any, connection: Connection) -> list[str]:
        method = message.get("method") if isinstance(message, dict) else None
        params = message.get("params") or []
        if method == "SUBSCRIBE":
            connection.keys.update(params)
        elif method == "UNSUBSCRIBE":
            connection.keys.difference_update(params)
        elif method != "LIST_SUBSCRIPTIONS":
            return [json.dumps({"code": 2, "msg": f"Invalid request {message!r}"})]
        result = sorted(connection.keys) if method == "LIST_SUBSCRIPTIONS" else None
        return [json.dumps({"result": result, "id": message.get("id")})]

    def rest(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        symbol = query.get("symbol", "").upper()
        if not path.endswith("/depth") or symbol not in self.books:
            return 400, json.dumps({"code": -1121, "msg": "Invalid symbol."})
        limit = int(query.get("limit", "100"))
        book = self.books[symbol]
        body = {
            "lastUpdateId": self.last[symbol],
            **self.extra[symbol],
            "bids": book.top_bids(limit),
            "asks": book.top_asks(limit),
        }
        return 200, json.dumps(body)
