"""Gemini market data v2 `l2`: the whole book as the first `l2_updates` after a subscribe."""

from __future__ import annotations

import json
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Gemini"]

SIDES = {"buy": 0, "sell": 1}


class Gemini(Dialect):
    """`{"type":"l2_updates","symbol","changes":[[side, price, quantity], ..]}`, `heartbeat`s.

    The venue's whole-book message also carries the symbol's recent `trades` (and
    `auction_events`); later updates do not: that is how a recorded one is told apart.
    """

    def key(self, message: Any) -> str | None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind in ("l2_updates", "trade"):
            return str(message["symbol"])
        return None if kind == "heartbeat" else ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, dict) or message.get("type") != "l2_updates":
            return None
        return BookFrame(message["symbol"], is_snapshot="trades" in message)

    def apply(self, message: Any) -> bool:
        symbol = message["symbol"]
        sides: tuple[list[Level], list[Level]] = ([], [])
        for side, price, quantity in message["changes"]:
            sides[SIDES[side]].append([price, quantity])
        if "trades" in message:
            self.books[symbol] = TextBook()
            self.books[symbol].replace(*sides)
        else:
            self.books[symbol].apply(*sides)
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            return [json.dumps({"type": "error", "reason": "InvalidJson", "result": "error"})]
        replies: list[str] = []
        for subscription in message.get("subscriptions", []):
            if subscription.get("name") != "l2":
                continue
            for symbol in subscription.get("symbols", []):
                replies += self.subscribe(connection, symbol, kind == "subscribe")
        return replies

    def snapshot(self, symbol: str) -> str:
        book = self.books[symbol]
        changes = [["buy", *level[:2]] for level in book.top_bids()]
        changes += [["sell", *level[:2]] for level in book.top_asks()]
        body = {"type": "l2_updates", "symbol": symbol, "changes": changes, "trades": [],
                "auction_events": []}  # fmt: skip
        return json.dumps(body)
