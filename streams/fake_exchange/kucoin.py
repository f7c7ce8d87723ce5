"""KuCoin spot `/market/level2`: a token from `bullet-public`, a welcome, REST snapshots with a
`sequence`, and updates numbered `sequenceStart..sequenceEnd`, one number per change."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streams.fake_exchange.book import TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Kucoin"]

TOPIC = "/market/level2:"
TOKEN = "fake-exchange-token"  # noqa: S105 - the only token this venue hands out
PING_INTERVAL_MS = 100  # the venue's is 18 s; short, so a test's run sees the client ping


class Kucoin(Dialect):
    """Answers `ping` with `pong` and acks (un)subscribes; a socket without the token is refused."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.last: dict[str, int] = {}
        self.times: dict[str, int] = {}
        self.tokens_issued = 0
        self.pings = 0
        for url, body in http:
            symbol = parse_qs(urlsplit(url).query).get("symbol", [""])[0]
            data = json.loads(body).get("data") or {}
            if symbol and "sequence" in data:
                self.books[symbol] = TextBook()
                self.books[symbol].replace(data["bids"], data["asks"])
                self.last[symbol] = int(data["sequence"])
                self.times[symbol] = int(data["time"])

    def key(self, message: Any) -> str | None:
        frame = self.book(message)
        return frame.symbol if frame is not None else ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, dict) or message.get("subject") != "trade.l2update":
            return None
        symbol = message["data"]["symbol"]
        return BookFrame(symbol, is_snapshot=False) if symbol in self.books else None

    def apply(self, message: Any) -> bool:
        data = message["data"]
        symbol = data["symbol"]
        if int(data["sequenceEnd"]) <= self.last[symbol]:
            return False  # already in the snapshot
        bids, asks = (
            [change[:2] for change in data["changes"][side]
             if int(change[2]) > self.last[symbol] and change[0] != "0"]  # "0": sequence only
            for side in ("bids", "asks")
        )  # fmt: skip
        self.books[symbol].apply(bids, asks)
        self.last[symbol] = int(data["sequenceEnd"])
        self.times[symbol] = int(data.get("time", self.times[symbol]))
        return True

    def on_connect(self, query: Mapping[str, str], connection: Connection) -> list[str]:
        if query.get("token") != TOKEN:
            return [json.dumps({"type": "error", "code": 401, "data": "token is invalid"})]
        return [json.dumps({"id": query.get("connectId", ""), "type": "welcome"})]

    def control(self, message: Any, connection: Connection) -> list[str]:
        kind = message.get("type") if isinstance(message, dict) else None
        reply = {"id": message.get("id") if isinstance(message, dict) else None}
        if kind == "ping":
            self.pings += 1
            return [json.dumps({**reply, "type": "pong"})]
        topic = str(message.get("topic", "")) if kind in ("subscribe", "unsubscribe") else ""
        if not topic.startswith(TOPIC):
            return [json.dumps({**reply, "type": "error", "code": 404, "data": "topic unknown"})]
        for symbol in topic.removeprefix(TOPIC).split(","):
            self.subscribe(connection, symbol, kind == "subscribe")
        return [json.dumps({**reply, "type": "ack"})] if message.get("response") else []

    def snapshot(self, symbol: str) -> str:
        return ""  # the book comes over REST only

    def subscribe(self, connection: Connection, symbol: str, subscribe: bool = True) -> list[str]:
        if subscribe:
            connection.keys.add(symbol)
        else:
            connection.keys.discard(symbol)
        return []

    def rest(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        if path == "/api/v1/bullet-public":
            self.tokens_issued += 1
            server = {
                "endpoint": "wss://ws-api-spot.kucoin.com/", "encrypt": True,
                "protocol": "websocket", "pingInterval": PING_INTERVAL_MS, "pingTimeout": 10000,
            }  # fmt: skip
            token = {"token": TOKEN, "instanceServers": [server]}
            return 200, json.dumps({"code": "200000", "data": token})
        if path != "/api/v3/market/orderbook/level2":
            return super().rest(path, query)
        symbol = query.get("symbol", "")
        if symbol not in self.books:
            return 200, json.dumps({"code": "400100", "msg": "symbol not exists"})
        book = self.books[symbol]
        data: dict[str, Any] = {
            "time": self.times[symbol], "sequence": str(self.last[symbol]),
            "bids": book.top_bids(), "asks": book.top_asks(),
        }  # fmt: skip
        return 200, json.dumps({"code": "200000", "data": data})
