"""Serve one recording as the venue: websocket + REST on 127.0.0.1, one feed, one-shot faults.

The server walks one recording (`NAME.ws.N.0` plus its `NAME.http.*` snapshots) once, at a fixed
pace, and sends every book frame to the connections subscribed to it, as the venue would: a
connection that is away misses frames. Its dialect keeps the venue's true book per instrument (the
recorded snapshot plus every recorded update, including withheld ones), so a resync gets a fresh
snapshot, over REST or the websocket as the venue does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from streams.fake_exchange.binance import Binance
from streams.fake_exchange.bitfinex import Bitfinex
from streams.fake_exchange.bitmex import Bitmex
from streams.fake_exchange.bitstamp import Bitstamp
from streams.fake_exchange.book import TextBook
from streams.fake_exchange.bybit import Bybit
from streams.fake_exchange.coinbase import Coinbase
from streams.fake_exchange.cryptocom import CryptoCom
from streams.fake_exchange.deribit import Deribit
from streams.fake_exchange.dialect import BookFrame, Connection, Dialect, load
from streams.fake_exchange.faults import Faults, FaultSchedule
from streams.fake_exchange.gemini import Gemini
from streams.fake_exchange.huobi import Huobi
from streams.fake_exchange.hyperliquid import Hyperliquid
from streams.fake_exchange.kraken import Kraken
from streams.fake_exchange.kraken_futures import KrakenFutures
from streams.fake_exchange.kucoin import Kucoin
from streams.fake_exchange.okx import Okx
from streams.sources.recording import HTTP, RECV, read_recording_set

__all__ = ["DIALECTS", "ReplayConfig", "ReplayServer"]

log = logging.getLogger(__name__)

DIALECTS: dict[str, type[Dialect]] = {
    "BINANCE": Binance,
    "BINANCE_US": Binance,
    "BINANCE_FUTURES": Binance,
    "BINANCE_DELIVERY": Binance,
    "BITFINEX": Bitfinex,
    "BITMEX": Bitmex,
    "BITSTAMP": Bitstamp,
    "BYBIT": Bybit,
    "COINBASE": Coinbase,
    "DERIBIT": Deribit,
    "GEMINI": Gemini,
    "KRAKEN": Kraken,
    "KRAKEN_FUTURES": KrakenFutures,
    "OKX": Okx,
    "OKCOIN": Okx,
    "KUCOIN": Kucoin,
    "HUOBI": Huobi,
    "CRYPTO.COM": CryptoCom,
    "HYPERLIQUID": Hyperliquid,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayConfig:
    venue: str
    recording: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    frame_interval_s: float = 0.001  # pause after each book frame
    faults: Faults = field(default_factory=Faults)
    book_frames: int | None = None  # play only this many book frames (None: the whole recording)


class ReplayServer:
    """Serve one recording to any number of connections; the feed starts at the first subscribe."""

    def __init__(self, config: ReplayConfig) -> None:
        venue = config.venue.upper()
        if venue not in DIALECTS:
            raise ValueError(f"no replay dialect for {venue}; known: {', '.join(sorted(DIALECTS))}")
        self.config = config
        received: list[str | bytes] = []
        http: list[tuple[str, str]] = []
        for event in read_recording_set(config.recording):
            if event.kind == RECV:
                received.append(event.data)
            elif event.kind == HTTP and isinstance(event.data, str):
                http.append((event.address, event.data))
        self.dialect = DIALECTS[venue](http)
        frames = [text for text in map(self.dialect.text, received) if text is not None]
        self._frames = self._slice(frames, config.book_frames)
        self._last_update = self._last_updates()
        self._connections: set[Connection] = set()
        self._schedule = FaultSchedule(config.faults)
        self._checksums: dict[str, int | None] = {}
        self._feed_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.done = asyncio.Event()
        self.book_frames = 0  # book frames the feed has passed
        self.messages_sent = 0  # every websocket message sent, to every connection
        self.connections_opened = 0
        self.fired = self._schedule.fired  # fault -> the instrument it hit
        self.fired_at = self._schedule.fired_at  # fault -> when it fired (epoch µs)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> ReplayServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
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
        return sum(1 for frame in self._frames if self.dialect.book(load(frame)) is not None)

    # -- HTTP and websocket --------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            query = dict(request.query.items())  # the last value of a repeated parameter wins
            status, body = self.dialect.rest(request.path, query)
            return web.Response(status=status, text=body, content_type="application/json")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = Connection(ws)
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

    async def _on_request(self, connection: Connection, text: str) -> None:
        replies = self.dialect.plain(text)
        if replies is None:
            message = load(text)
            if message is None:
                return
            replies = self.dialect.control(message, connection)
        await self._send_all(connection, replies)
        self._maybe_start_feed(connection)

    def _maybe_start_feed(self, connection: Connection) -> None:
        if self._feed_task is None and connection.keys:
            self._feed_task = asyncio.create_task(self._feed())

    async def _send_all(self, connection: Connection, messages: Iterable[str]) -> None:
        for text in messages:
            if connection.silent or connection.ws.closed:
                return
            stamped = self.dialect.stamp(connection, text)
            if stamped is None:
                continue
            data = self.dialect.wire(stamped)
            try:
                if isinstance(data, bytes):
                    await connection.ws.send_bytes(data)
                else:
                    await connection.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                return  # the client went away; its handler cleans up
            connection.sent += 1
            self.messages_sent += 1

    # -- the feed ------------------------------------------------------------------------------
    async def _feed(self) -> None:
        for index, text in enumerate(self._frames):
            message = load(text)
            if message is None:
                continue
            key = self.dialect.key(message)
            receivers = [c for c in self._connections if key is None or key in c.keys]
            frame = self.dialect.book(message)
            texts, withheld = [text], None
            if frame is not None:
                received = any(not connection.silent for connection in receivers)
                texts, withheld = await self._book_frame(index, message, text, frame, received)
            for connection in receivers:
                if withheld is not None:  # numbered for the connection, lost on the way
                    self.dialect.stamp(connection, withheld)
                await self._send_all(connection, texts)
            if frame is not None:
                await asyncio.sleep(self.config.frame_interval_s)
        self.done.set()

    async def _book_frame(
        self, index: int, message: Any, text: str, frame: BookFrame, received: bool
    ) -> tuple[list[str], str | None]:
        """Apply one book frame to the truth and fire due faults; return what to send, and the
        frame withheld (None: none). Only a frame some connection gets is withheld or corrupted:
        a client still subscribing would never see the fault."""
        schedule, position = self._schedule, self.book_frames
        self.book_frames += 1
        if schedule.due("drop", position):
            schedule.fire("drop", frame.symbol)
            for connection in list(self._connections):
                await connection.ws.close(code=WSCloseCode.GOING_AWAY)
        if schedule.due("silence", position):
            schedule.fire("silence", frame.symbol)
            for connection in self._connections:
                connection.silent = True
        update_with_future = (
            received and not frame.is_snapshot and self._last_update[frame.symbol] > index
        )
        corrupt = update_with_future and frame.has_checksum and schedule.due("corrupt", position)
        # Only a withheld update that moves the checksummed top can be noticed on such venues.
        checksum = self.dialect.checksum(message)
        moves_top = checksum is None or checksum != self._checksums.get(frame.symbol)
        self._checksums[frame.symbol] = checksum
        applied = self.dialect.apply(message)
        trailer = self.dialect.trailer(message, corrupt)
        if corrupt:
            schedule.fire("corrupt", frame.symbol)
            return [self.dialect.corrupt(message), *trailer], None
        removable = applied and update_with_future and moves_top
        if removable and schedule.due("remove", position):
            schedule.fire("remove", frame.symbol)
            return trailer, text
        return [text, *trailer], None

    def _slice(self, frames: list[str], book_frames: int | None) -> list[str]:
        """The frames up to the given number of book frames (a short test needs only a slice)."""
        if book_frames is None:
            return frames
        for index, text in enumerate(frames):
            message = load(text)
            if message is not None and self.dialect.book(message) is not None:
                book_frames -= 1
                if book_frames < 0:
                    return frames[:index]
        return frames

    def _last_updates(self) -> dict[str, int]:
        last: dict[str, int] = {}
        for index, text in enumerate(self._frames):
            message = load(text)
            frame = self.dialect.book(message) if message is not None else None
            if frame is not None and not frame.is_snapshot:
                last[frame.symbol] = index
        return last
