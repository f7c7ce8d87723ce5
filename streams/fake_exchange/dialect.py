"""The shape every venue dialect fills in: which frames are book frames, how to answer requests."""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from streams.fake_exchange.book import TextBook

__all__ = ["BookFrame", "Connection", "ConnectionNumbers", "Dialect", "load"]


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    keys: set[str] = field(default_factory=set)
    silent: bool = False
    sent: int = 0


@dataclass(frozen=True, slots=True)
class BookFrame:
    symbol: str
    is_snapshot: bool
    has_checksum: bool = False


class Dialect:
    """How one venue family frames its book channel; the defaults suit websocket snapshots."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        self.books: dict[str, TextBook] = {}

    def text(self, frame: str | bytes) -> str | None:
        """A recorded frame as JSON text (None: a binary frame this venue does not send)."""
        return frame if isinstance(frame, str) else None

    def wire(self, text: str) -> str | bytes:
        """A message as the venue puts it on the socket (bytes: a binary frame)."""
        return text

    def key(self, message: Any) -> str | None:
        """The subscription a frame belongs to; None: every connection; "": nobody."""
        raise NotImplementedError

    def book(self, message: Any) -> BookFrame | None:
        raise NotImplementedError

    def apply(self, message: Any) -> bool:
        """Update the true book; False when the venue would ignore the frame (stale)."""
        raise NotImplementedError

    def on_connect(self, query: Mapping[str, str], connection: Connection) -> list[str]:
        return []

    def plain(self, text: str) -> list[str] | None:
        """Replies to a request that is not JSON (None: not one this venue knows)."""
        return ["pong"] if text == "ping" else None

    def control(self, message: Any, connection: Connection) -> list[str]:
        """Handle a client request; return the replies (snapshots included)."""
        raise NotImplementedError

    def snapshot(self, symbol: str) -> str:
        """A websocket snapshot of the true book (venues that send one on subscribe)."""
        raise NotImplementedError

    def subscribe(self, connection: Connection, symbol: str, subscribe: bool = True) -> list[str]:
        """(Un)subscribe one instrument; a subscribe to a known book answers with its snapshot."""
        if not subscribe:
            connection.keys.discard(symbol)
            return []
        connection.keys.add(symbol)
        return [self.snapshot(symbol)] if symbol in self.books else []

    def rest(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        return 404, json.dumps({"error": f"no REST endpoint {path}"})

    def corrupt(self, message: Any) -> str:
        raise NotImplementedError

    def checksum(self, message: Any) -> int | None:
        """The checksum a book frame carries, if the venue sends one."""
        return None

    def trailer(self, message: Any, corrupt: bool = False) -> list[str]:
        """Frames the venue sends right after a book frame about the book it leaves (Bitfinex's
        `cs`), already applied; `corrupt`: with a wrong checksum."""
        return []

    def stamp(self, connection: Connection, text: str) -> str | None:
        """The frame as this connection gets it: venues that number each connection's messages
        number it here (None: the connection did not ask for such frames)."""
        return text


class ConnectionNumbers:
    """A venue's count of the messages it sent on each connection (Coinbase, Bitfinex)."""

    def __init__(self, first: int) -> None:
        self.first = first
        self._next: weakref.WeakKeyDictionary[Connection, int] = weakref.WeakKeyDictionary()

    def next(self, connection: Connection) -> int:
        number = self._next.get(connection, self.first)
        self._next[connection] = number + 1
        return number


def load(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
