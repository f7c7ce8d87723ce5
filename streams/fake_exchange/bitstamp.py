"""Bitstamp v2 `diff_order_book_{pair}` diffs and the REST `order_book` snapshot they sync to."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from streams.fake_exchange.book import TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect

__all__ = ["Bitstamp"]

CHANNEL = "diff_order_book_"
REST_PATH = "/api/v2/order_book/"


class Bitstamp(Dialect):
    """`{"event":"data","channel":"diff_order_book_ethusd","data":{microtimestamp,bids,asks}}`.

    The true book starts at each pair's recorded REST snapshot; a diff at or before the book's
    `microtimestamp` is already in it. `GET /api/v2/order_book/{pair}` answers the whole book with
    the `microtimestamp` of the last diff applied, as the client's sync rule expects.
    """

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.stamps: dict[str, int] = {}  # pair -> microtimestamp of the book
        for url, body in http:
            pair = url.split(REST_PATH, 1)[-1].split("?")[0].strip("/")
            snapshot = json.loads(body)
            if REST_PATH in url and "microtimestamp" in snapshot:
                self.books[pair] = TextBook()
                self.books[pair].replace(snapshot["bids"], snapshot["asks"])
                self.stamps[pair] = int(snapshot["microtimestamp"])

    def key(self, message: Any) -> str | None:
        if isinstance(message, dict) and message.get("event") in ("data", "trade"):
            return str(message.get("channel", ""))
        return ""  # the recording's acknowledgements: this venue answers each connection itself

    def book(self, message: Any) -> BookFrame | None:
        channel = message.get("channel", "") if isinstance(message, dict) else ""
        pair = channel[len(CHANNEL) :]
        if channel.startswith(CHANNEL) and pair in self.books and message.get("event") == "data":
            return BookFrame(pair, is_snapshot=False)
        return None

    def apply(self, message: Any) -> bool:
        pair, data = message["channel"][len(CHANNEL) :], message["data"]
        stamp = int(data["microtimestamp"])
        if stamp <= self.stamps[pair]:
            return False  # already in the snapshot
        self.books[pair].apply(data["bids"], data["asks"])
        self.stamps[pair] = stamp
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        event = message.get("event") if isinstance(message, dict) else None
        data = message.get("data") if isinstance(message, dict) else None
        channel = data.get("channel", "") if isinstance(data, dict) else ""
        if event == "bts:heartbeat":
            return [json.dumps({"event": event, "channel": "", "data": {"status": "success"}})]
        if event not in ("bts:subscribe", "bts:unsubscribe") or not channel:
            error = {"event": "bts:error", "channel": "", "data": {"code": None,
                     "message": "Bad subscription string."}}  # fmt: skip
            return [json.dumps(error)]
        if event == "bts:subscribe":
            connection.keys.add(channel)
            reply = "bts:subscription_succeeded"
        else:
            connection.keys.discard(channel)
            reply = "bts:unsubscription_succeeded"
        return [json.dumps({"event": reply, "channel": channel, "data": {}})]

    def rest(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        pair = path.split(REST_PATH, 1)[-1].strip("/")
        if not path.startswith(REST_PATH) or pair not in self.books:
            return 404, json.dumps({"status": "error", "reason": "Not Found"})
        book, stamp = self.books[pair], self.stamps[pair]
        body = {
            "timestamp": str(stamp // 1_000_000),
            "microtimestamp": str(stamp),
            "bids": book.top_bids(),
            "asks": book.top_asks(),
        }
        return 200, json.dumps(body)
