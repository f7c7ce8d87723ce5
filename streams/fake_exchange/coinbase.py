"""Coinbase Advanced Trade `level2`: snapshots on subscribe, `sequence_num` per connection."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from streams.fake_exchange.book import Level, TextBook
from streams.fake_exchange.dialect import BookFrame, Connection, ConnectionNumbers, Dialect

__all__ = ["Coinbase"]

DATA_CHANNEL = "l2_data"
HEARTBEATS = "heartbeats"
SIDES = {"bid": 0, "offer": 1}
# The first one in a message is its own: the key comes before `events` on every channel.
SEQUENCE = re.compile(r'"sequence_num":\s*\d+')


class Coinbase(Dialect):
    """`{"channel":"l2_data","timestamp","sequence_num","events":[{"type","product_id","updates"}]}`.

    Every message of a connection, whatever its channel, carries that connection's next
    `sequence_num` from 0, so the recorded numbers are rewritten for each connection; a frame the
    venue numbered but that never arrived is a gap the client sees.
    """

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.numbers = ConnectionNumbers(0)
        self.times: dict[str, str] = {}  # product -> the timestamp of its last message

    def key(self, message: Any) -> str | None:
        channel = message.get("channel") if isinstance(message, dict) else None
        if channel == DATA_CHANNEL:
            return str(message["events"][0]["product_id"])
        return HEARTBEATS if channel == HEARTBEATS else ""

    def book(self, message: Any) -> BookFrame | None:
        if not isinstance(message, dict) or message.get("channel") != DATA_CHANNEL:
            return None
        event = message["events"][0]
        return BookFrame(event["product_id"], is_snapshot=event["type"] == "snapshot")

    def apply(self, message: Any) -> bool:
        for event in message["events"]:
            symbol = event["product_id"]
            sides: tuple[list[Level], list[Level]] = ([], [])
            for change in event["updates"]:
                level = [change["price_level"], change["new_quantity"], change["event_time"]]
                sides[SIDES[change["side"]]].append(level)
            if event["type"] == "snapshot":
                self.books[symbol] = TextBook()
                self.books[symbol].replace(*sides)
            else:
                self.books[symbol].apply(*sides)
            self.times[symbol] = message["timestamp"]
        return True

    def control(self, message: Any, connection: Connection) -> list[str]:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            return [json.dumps({"type": "error", "message": f"unknown type {kind!r}"})]
        channel = message.get("channel")
        replies: list[str] = []
        if channel == HEARTBEATS and kind == "subscribe":
            connection.keys.add(HEARTBEATS)
        elif channel == HEARTBEATS:
            connection.keys.discard(HEARTBEATS)
        elif channel == "level2":
            for product in message.get("product_ids", []):
                replies += self.subscribe(connection, product, kind == "subscribe")
        channels = {"level2": sorted(connection.keys - {HEARTBEATS})}
        if HEARTBEATS in connection.keys:
            channels[HEARTBEATS] = [HEARTBEATS]
        acknowledgement = json.dumps({"subscriptions": channels})
        return [self._message("subscriptions", acknowledgement), *replies]

    def snapshot(self, symbol: str) -> str:
        book = self.books[symbol]
        # Written out directly: a BTC-USD book of 46,000 levels through `json.dumps` is slow
        # enough to trip a short watchdog on a loaded machine.
        updates = ",".join(
            f'{{"side":"{side}","event_time":"{level[2]}","price_level":"{level[0]}",'
            f'"new_quantity":"{level[1]}"}}'
            for side, levels in (("bid", book.top_bids()), ("offer", book.top_asks()))
            for level in levels
        )
        event = f'{{"type":"snapshot","product_id":{json.dumps(symbol)},"updates":[{updates}]}}'
        return self._message(DATA_CHANNEL, event, self.times[symbol])

    def _message(self, channel: str, events: str, timestamp: str = "") -> str:
        """One message around its events' JSON text, numbered 0 until `stamp` numbers it."""
        stamp = json.dumps(timestamp or max(self.times.values(), default=""))
        return f'{{"channel":"{channel}","timestamp":{stamp},"sequence_num":0,"events":[{events}]}}'

    def stamp(self, connection: Connection, text: str) -> str | None:
        found = SEQUENCE.search(text)
        if found is None:
            return text  # an error reply: not numbered
        number = self.numbers.next(connection)
        return f'{text[: found.start()]}"sequence_num":{number}{text[found.end() :]}'
