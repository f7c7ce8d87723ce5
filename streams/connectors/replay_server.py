"""Play a real exchange recording back as the venue: websocket + REST on 127.0.0.1, with faults.

The server walks one recording (`NAME.ws.N.0` plus its `NAME.http.*` snapshots) once, at a fixed
pace, and sends every book frame to the connections subscribed to it, as the venue would: a
connection that is away misses frames. It keeps the venue's true book per instrument (the recorded
snapshot plus every recorded update, including withheld ones), so a resync gets a fresh snapshot:
Binance from `GET .../depth`, Kraken and OKX a websocket snapshot after (re)subscribing. Faults
(`Faults`) drop every connection, withhold one update (a sequence gap), corrupt one checksum, or
silence the open connections, each once, at a given book-frame index.

Test infrastructure, not product: it trusts its recording and speaks only the book channel of
Binance (spot, US, USD-M, COIN-M), Kraken spot v1 and OKX/OKCoin v5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from streams.sources.recording import HTTP, RECV, read_recording_set
from streams.venues.okx import okx_checksum

__all__ = ["Faults", "ReplayConfig", "ReplayServer", "TextBook", "main"]

log = logging.getLogger(__name__)

Level = list[str]  # the venue's own text: [price, size, ...extra fields]


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """One-shot faults, each at the first suitable book frame with index >= the given one."""

    drop_at: int | None = None  # close every open connection
    remove_at: int | None = None  # withhold one update (the venue still applies it): a gap
    corrupt_checksum_at: int | None = None  # send one update with a wrong checksum
    silent_at: int | None = None  # the open connections receive nothing more, but stay open


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayConfig:
    venue: str
    recording: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    frame_interval_s: float = 0.001  # pause after each book frame
    faults: Faults = field(default_factory=Faults)


class TextBook:
    """A book of text levels keyed by price text, ordered by decimal value; size 0 deletes."""

    def __init__(self, depth: int | None = None) -> None:
        self.depth = depth
        self.bids: dict[str, Level] = {}
        self.asks: dict[str, Level] = {}

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids, self.asks = {}, {}
        self.apply(bids, asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for level in levels:
                if Decimal(level[1]) == 0:
                    side.pop(level[0], None)
                else:
                    side[level[0]] = list(level)
        if self.depth is not None:  # the venue only keeps the subscribed depth
            self.bids = {level[0]: level for level in self.top_bids(self.depth)}
            self.asks = {level[0]: level for level in self.top_asks(self.depth)}

    def top_bids(self, count: int | None = None) -> list[Level]:
        ordered = sorted(self.bids.values(), key=lambda level: Decimal(level[0]), reverse=True)
        return ordered[:count]

    def top_asks(self, count: int | None = None) -> list[Level]:
        return sorted(self.asks.values(), key=lambda level: Decimal(level[0]))[:count]

    def floats(self) -> tuple[dict[float, float], dict[float, float]]:
        """The book as {price: size} per side, as a consumer of published deltas holds it."""
        return (
            {float(price): float(level[1]) for price, level in self.bids.items()},
            {float(price): float(level[1]) for price, level in self.asks.items()},
        )


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    keys: set[str] = field(default_factory=set)
    silent: bool = False
    sent: int = 0


@dataclass(frozen=True, slots=True)
class _BookFrame:
    symbol: str
    is_snapshot: bool
    has_checksum: bool = False


class _Dialect:
    """How one venue family frames its book channel; the defaults suit websocket snapshots."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        self.books: dict[str, TextBook] = {}

    def key(self, message: Any) -> str | None:
        """The subscription a frame belongs to; None: every connection; "": nobody."""
        raise NotImplementedError

    def book(self, message: Any) -> _BookFrame | None:
        raise NotImplementedError

    def apply(self, message: Any) -> bool:
        """Update the true book; False when the venue would ignore the frame (stale)."""
        raise NotImplementedError

    def on_connect(self, query: Mapping[str, str], connection: _Connection) -> list[str]:
        return []

    def control(self, message: Any, connection: _Connection) -> list[str]:
        """Handle a client request; return the replies (snapshots included)."""
        raise NotImplementedError

    def rest(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        return 404, json.dumps({"error": f"no REST endpoint {path}"})

    def corrupt(self, message: Any) -> str:
        raise NotImplementedError

    def checksum(self, message: Any) -> int | None:
        """The checksum a book frame carries, if the venue sends one."""
        return None


class _Binance(_Dialect):
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

    def book(self, message: Any) -> _BookFrame | None:
        data = message.get("data") if isinstance(message, dict) else None
        if isinstance(data, dict) and data.get("e") == "depthUpdate" and data["s"] in self.books:
            return _BookFrame(data["s"], is_snapshot=False)
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

    def on_connect(self, query: Mapping[str, str], connection: _Connection) -> list[str]:
        streams = query.get("streams", "")
        connection.keys.update(name for name in streams.split("/") if name)
        return []

    def control(self, message: Any, connection: _Connection) -> list[str]:
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


class _Kraken(_Dialect):
    """Spot v1: `[channelID, {"as","bs"} | {"a"},{"b","c"}, "book-N", pair]` and events."""

    def __init__(self, http: Sequence[tuple[str, str]]) -> None:
        super().__init__(http)
        self.channels: dict[str, int] = {}
        self.channel_name = "book-1000"

    def key(self, message: Any) -> str | None:
        if isinstance(message, list):
            return message[-1] if str(message[-2]).startswith("book") else ""
        return None if message.get("event") == "heartbeat" else ""

    def book(self, message: Any) -> _BookFrame | None:
        if not isinstance(message, list) or not str(message[-2]).startswith("book"):
            return None
        first = message[1]
        has_checksum = any("c" in body for body in message[1:-2])
        return _BookFrame(message[-1], "as" in first or "bs" in first, has_checksum)

    def apply(self, message: Any) -> bool:
        pair, bodies = message[-1], message[1:-2]
        self.channels[pair] = message[0]
        self.channel_name = message[-2]
        if "as" in bodies[0] or "bs" in bodies[0]:
            depth = int(self.channel_name.rsplit("-", 1)[-1])
            self.books[pair] = TextBook(depth)
            self.books[pair].replace(bodies[0].get("bs", []), bodies[0].get("as", []))
            return True
        for body in bodies:
            self.books[pair].apply(body.get("b", []), body.get("a", []))
        return True

    def on_connect(self, query: Mapping[str, str], connection: _Connection) -> list[str]:
        status = {
            "connectionID": 1,
            "event": "systemStatus",
            "status": "online",
            "version": "1.8.3",
        }
        return [json.dumps(status)]

    def control(self, message: Any, connection: _Connection) -> list[str]:
        event = message.get("event") if isinstance(message, dict) else None
        if event == "ping":
            return [json.dumps({"event": "pong", "reqid": message.get("reqid")})]
        if event not in ("subscribe", "unsubscribe"):
            return [json.dumps({"event": "error", "errorMessage": "Unsupported event"})]
        replies = []
        for pair in message.get("pair", []):
            status = {
                "channelID": self.channels.get(pair, 0),
                "channelName": self.channel_name,
                "event": "subscriptionStatus",
                "pair": pair,
                "status": "subscribed" if event == "subscribe" else "unsubscribed",
                "subscription": message.get("subscription", {}),
            }
            replies.append(json.dumps(status))
            if event == "unsubscribe":
                connection.keys.discard(pair)
                continue
            connection.keys.add(pair)
            book = self.books.get(pair)
            if book is not None:  # else the recorded snapshot is still ahead in the feed
                depth = book.depth
                body = {"as": book.top_asks(depth), "bs": book.top_bids(depth)}
                replies.append(json.dumps([self.channels[pair], body, self.channel_name, pair]))
        return replies

    def checksum(self, message: Any) -> int | None:
        sums = [int(body["c"]) for body in message[1:-2] if "c" in body]
        return sums[-1] if sums else None

    def corrupt(self, message: Any) -> str:
        for body in message[1:-2]:
            if "c" in body:
                body["c"] = str((int(body["c"]) + 1) % (1 << 32))
        return json.dumps(message)


class _Okx(_Dialect):
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

    def book(self, message: Any) -> _BookFrame | None:
        if self.key(message) in ("", None):
            return None
        has_checksum = any("checksum" in body for body in message["data"])
        return _BookFrame(message["arg"]["instId"], message["action"] == "snapshot", has_checksum)

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

    def control(self, message: Any, connection: _Connection) -> list[str]:
        operation = message.get("op") if isinstance(message, dict) else None
        if operation not in ("subscribe", "unsubscribe"):
            return [json.dumps({"event": "error", "code": "60012", "msg": "Invalid request"})]
        replies = []
        for argument in message.get("args", []):
            replies.append(json.dumps({"event": operation, "arg": argument}))
            if argument.get("channel") != "books":
                continue
            symbol = argument["instId"]
            if operation == "unsubscribe":
                connection.keys.discard(symbol)
                continue
            connection.keys.add(symbol)
            if symbol in self.books:
                replies.append(self._snapshot(symbol))
        return replies

    def _snapshot(self, symbol: str) -> str:
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


_DIALECTS: dict[str, type[_Dialect]] = {
    "BINANCE": _Binance,
    "BINANCE_US": _Binance,
    "BINANCE_FUTURES": _Binance,
    "BINANCE_DELIVERY": _Binance,
    "KRAKEN": _Kraken,
    "OKX": _Okx,
    "OKCOIN": _Okx,
}


class ReplayServer:
    """Serve one recording to any number of connections; the feed starts at the first subscribe."""

    def __init__(self, config: ReplayConfig) -> None:
        venue = config.venue.upper()
        if venue not in _DIALECTS:
            raise ValueError(
                f"no replay dialect for {venue}; known: {', '.join(sorted(_DIALECTS))}"
            )
        self.config = config
        frames: list[str] = []
        http: list[tuple[str, str]] = []
        for event in read_recording_set(config.recording):
            if event.kind == RECV and isinstance(event.data, str):
                frames.append(event.data)
            elif event.kind == HTTP and isinstance(event.data, str):
                http.append((event.address, event.data))
        self.dialect = _DIALECTS[venue](http)
        self._frames = frames
        self._last_update = self._last_updates()
        self._connections: set[_Connection] = set()
        self._fired: set[str] = set()
        self._checksums: dict[str, int | None] = {}
        self._feed_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.done = asyncio.Event()
        self.book_frames = 0  # book frames the feed has passed
        self.messages_sent = 0  # every websocket message sent, to every connection
        self.connections_opened = 0
        self.fired: dict[str, str] = {}  # fault -> the instrument it hit

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> ReplayServer:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the real port when config.port is 0
        return self

    async def stop(self) -> None:
        if self._feed_task is not None:
            self._feed_task.cancel()
        for connection in list(self._connections):
            await connection.ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def websocket_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def truth(self) -> dict[str, TextBook]:
        """The venue's true book per venue symbol (read it once `done` is set)."""
        return dict(self.dialect.books)

    def total_book_frames(self) -> int:
        return sum(1 for frame in self._frames if self.dialect.book(_load(frame)) is not None)

    # -- HTTP and websocket --------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            query = dict(request.query.items())  # the last value of a repeated parameter wins
            status, body = self.dialect.rest(request.path, query)
            return web.Response(status=status, text=body, content_type="application/json")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = _Connection(ws)
        self._connections.add(connection)
        self.connections_opened += 1
        try:
            await self._send_all(connection, self.dialect.on_connect(request.query, connection))
            self._maybe_start_feed(connection)
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_request(connection, message.data)
        finally:
            self._connections.discard(connection)
        return ws

    async def _on_request(self, connection: _Connection, text: str) -> None:
        if text == "ping":  # OKX's plain-text keepalive
            await self._send_all(connection, ["pong"])
            return
        message = _load(text)
        if message is None:
            return
        await self._send_all(connection, self.dialect.control(message, connection))
        self._maybe_start_feed(connection)

    def _maybe_start_feed(self, connection: _Connection) -> None:
        if self._feed_task is None and connection.keys:
            self._feed_task = asyncio.create_task(self._feed())

    async def _send_all(self, connection: _Connection, messages: Iterable[str]) -> None:
        for text in messages:
            if connection.silent or connection.ws.closed:
                return
            try:
                await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return  # the client went away; its handler cleans up
            connection.sent += 1
            self.messages_sent += 1

    # -- the feed ------------------------------------------------------------------------------
    async def _feed(self) -> None:
        for index, text in enumerate(self._frames):
            message = _load(text)
            if message is None:
                continue
            key = self.dialect.key(message)
            frame = self.dialect.book(message)
            if frame is not None:
                text = await self._book_frame(index, message, text, frame)
            if key == "" or not text:
                continue
            for connection in list(self._connections):
                if key is None or key in connection.keys:
                    await self._send_all(connection, [text])
            if frame is not None:
                await asyncio.sleep(self.config.frame_interval_s)
        self.done.set()

    async def _book_frame(self, index: int, message: Any, text: str, frame: _BookFrame) -> str:
        """Apply one book frame to the truth and fire due faults; return what to send ("": none)."""
        faults = self.config.faults
        position = self.book_frames
        self.book_frames += 1
        if self._due("drop", faults.drop_at, position):
            self.fired["drop"] = frame.symbol
            for connection in list(self._connections):
                await connection.ws.close(code=WSCloseCode.GOING_AWAY)
        if self._due("silence", faults.silent_at, position):
            self.fired["silence"] = frame.symbol
            for connection in self._connections:
                connection.silent = True
        update_with_future = not frame.is_snapshot and self._last_update[frame.symbol] > index
        corrupt = (
            update_with_future
            and frame.has_checksum
            and self._due("corrupt", faults.corrupt_checksum_at, position)
        )
        # Only a withheld update that moves the checksummed top can be noticed on such venues.
        checksum = self.dialect.checksum(message)
        moves_top = checksum is None or checksum != self._checksums.get(frame.symbol)
        self._checksums[frame.symbol] = checksum
        applied = self.dialect.apply(message)
        if corrupt:
            self.fired["corrupt"] = frame.symbol
            return self.dialect.corrupt(message)
        removable = applied and update_with_future and moves_top
        if removable and self._due("remove", faults.remove_at, position):
            self.fired["remove"] = frame.symbol
            return ""
        return text

    def _due(self, name: str, at: int | None, position: int) -> bool:
        if at is None or position < at or name in self._fired:
            return False
        self._fired.add(name)
        return True

    def _last_updates(self) -> dict[str, int]:
        last: dict[str, int] = {}
        for index, text in enumerate(self._frames):
            message = _load(text)
            frame = self.dialect.book(message) if message is not None else None
            if frame is not None and not frame.is_snapshot:
                last[frame.symbol] = index
        return last


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


async def _serve(config: ReplayConfig) -> None:
    server = await ReplayServer(config).start()
    print(
        f"replaying {config.recording.name}: {server.websocket_url} {server.rest_url}", flush=True
    )
    await server.done.wait()
    print(f"feed finished: {server.book_frames} book frames, {server.messages_sent} messages")
    await asyncio.Event().wait()  # keep serving snapshots until interrupted


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m streams.connectors.replay_server VENUE RECORDING [--port N] [--drop-at N] ...`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venue")
    parser.add_argument("recording", type=Path)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--interval", type=float, default=0.001, help="seconds per book frame")
    for name in ("drop-at", "remove-at", "corrupt-checksum-at", "silent-at"):
        parser.add_argument(f"--{name}", type=int, default=None, help="book frame index")
    args = parser.parse_args(argv)
    faults = Faults(
        drop_at=args.drop_at,
        remove_at=args.remove_at,
        corrupt_checksum_at=args.corrupt_checksum_at,
        silent_at=args.silent_at,
    )
    config = ReplayConfig(
        venue=args.venue, recording=args.recording, port=args.port,
        frame_interval_s=args.interval, faults=faults,
    )  # fmt: skip
    try:
        asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
