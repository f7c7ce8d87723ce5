"""One websocket of a connector: connect, subscribe, feed the synchronizer, carry out what it
asks (publish, resync, answer heartbeats), and reconnect after a backoff when the socket goes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiohttp
from prometheus_client import Counter

from streams.connectors import keepalive
from streams.connectors.config import backoff_delay
from streams.connectors.rest import Rest, SnapshotError, SnapshotFetches
from streams.observability import BOOK_RESYNCS, CHECKSUM_FAILURES
from streams.venues.base import MAX_FRAME_BYTES, SnapshotSource, VenueParser
from streams.venues.exceptions import ParseError
from streams.venues.synchronizer import BookSynchronizer, SyncOutput

if TYPE_CHECKING:
    from streams.connectors.session import Connector

__all__ = ["Connection"]

log = logging.getLogger(__name__)

GAPS = Counter("streams_connector_gaps", "Sequence gaps detected", ["venue"])
RECONNECTS = Counter("streams_connector_reconnects", "Websocket reconnects", ["venue"])
STALE = Counter("streams_connector_stale_connections", "Connections closed as silent", ["venue"])
PARSE_ERRORS = Counter("streams_connector_parse_errors", "Frames that did not parse", ["venue"])

SUBSCRIBE_SPACING_S = 0.25  # Binance allows 5 requests/s per connection; others are looser
# a lost socket, or a token endpoint that failed: reconnect after the backoff
LOST = (aiohttp.ClientError, OSError, TimeoutError, SnapshotError, ParseError)


def _now_us() -> int:
    return time.time_ns() // 1_000


class Connection:
    """One websocket carrying some of the connector's symbols, reconnecting until cancelled."""

    def __init__(
        self, connector: Connector, parser: VenueParser, url: str, symbols: Sequence[str]
    ) -> None:
        self.connector = connector
        self.config = connector.config
        self.venue = parser.capabilities.exchange
        self.url = url
        self.symbols = tuple(symbols)
        self.sync = BookSynchronizer(parser)
        self.pending: set[str] = {symbol.upper() for symbol in symbols}  # awaiting a snapshot
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._rest: Rest | None = None
        self._fetches = SnapshotFetches(
            self.venue, self.config, connector.counters, connector.rng, connector.fail
        )
        self._pinger: asyncio.Task[None] | None = None
        self._seen: dict[str, int] = {}
        self._healthy = False
        self._opened = 0

    @property
    def synced(self) -> bool:
        return self.ws is not None and not self.ws.closed and not self.pending

    async def run(self, http: aiohttp.ClientSession) -> None:
        self._rest = Rest(http, self.config)
        attempt = 0
        while True:
            self._healthy = False
            reason = "closed by the venue"
            try:
                reason = await self._session(http)
            except LOST as error:
                reason = f"{type(error).__name__}: {error}"
            except BaseException:
                # stopping, or failing (a DeliveryError): no resync, and nothing left running
                # (pinger, REST fetches) that could publish after the connector's final flush
                await self._close()
                raise
            await self._close()
            self._resync_after_loss()
            attempt = 0 if self._healthy else attempt + 1
            delay = backoff_delay(
                attempt, self.config.backoff_initial_s, self.config.backoff_max_s,
                self.connector.rng,
            )  # fmt: skip
            self.connector.counters.reconnects += 1
            RECONNECTS.labels(self.venue).inc()
            log.warning("%s %s: %s; reconnecting in %.2f s", self.venue, self.url, reason, delay)
            await asyncio.sleep(delay)

    async def _connect(self, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        """Open the socket (asking the token endpoint first where the venue has one)."""
        assert self._rest is not None  # set by run()
        self._opened += 1
        connect_id = f"{self.connector.rng.getrandbits(32):08x}{self._opened}"
        async with asyncio.timeout(self.config.connect_timeout_s):
            address = await self._rest.socket_address(self.sync.parser, self.url, connect_id)
            ws = await http.ws_connect(address.url, max_msg_size=MAX_FRAME_BYTES, autoping=True)
        if address.ping_interval_s is not None:
            self._pinger = asyncio.create_task(keepalive.ping_every(
                ws, address.ping_interval_s, self.sync.parser.ping_message, self._pinged,
            ))  # fmt: skip
            self._pinger.add_done_callback(self._pinger_ended)
        return ws

    def _pinger_ended(self, task: asyncio.Task[None]) -> None:
        # Nobody awaits the pinger: an error in it would stop the pings without a word, and the
        # venue would drop every socket for want of them.
        if not task.cancelled() and (error := task.exception()) is not None:
            self.connector.fail(error)

    def _pinged(self) -> None:
        self.connector.counters.pings += 1

    async def _session(self, http: aiohttp.ClientSession) -> str:
        self.ws = ws = await self._connect(http)
        log.info("%s: connected to %s for %d symbol(s)", self.venue, self.url, len(self.symbols))
        await self._subscribe(ws)
        while True:
            message = await keepalive.receive(ws, self.config.stale_after_s)
            if message is None:
                self.connector.counters.stale_connections += 1
                STALE.labels(self.venue).inc()
                return f"no message for {self.config.stale_after_s} s (stale)"
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                await self._on_frame(message.data)
            elif message.type == aiohttp.WSMsgType.ERROR:
                return f"websocket error: {message.data}"
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return f"closed by the venue (code {ws.close_code})"

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Send the subscriptions, spaced; start the REST snapshots where the venue has them."""
        for index, request in enumerate(self.sync.parser.subscribe_messages(self.symbols)):
            if index:
                await asyncio.sleep(SUBSCRIBE_SPACING_S)
            if not await keepalive.send(ws, request):
                return  # closing: read what it still holds, then reconnect
        if self.sync.parser.capabilities.snapshot_source == SnapshotSource.REST:
            for symbol in self.symbols:
                self._fetch(symbol, self.sync.parser.snapshot_url(symbol))

    async def _close(self) -> None:
        self._fetches.cancel()
        if self._pinger is not None:
            self._pinger.cancel()
            self._pinger = None
        if self.ws is not None:
            await self.ws.close()
        self.ws = None

    def _resync_after_loss(self) -> None:
        # Every book on this connection is suspect now; the new subscription brings snapshots.
        self.sync.resync_all("connection lost")
        self.pending = {symbol.upper() for symbol in self.symbols}
        self._count()

    async def _on_frame(self, frame: str | bytes) -> None:
        counters = self.connector.counters
        counters.messages += 1
        try:
            output = self.sync.on_frame(frame, _now_us())
        except ParseError as error:
            counters.parse_errors += 1
            PARSE_ERRORS.labels(self.venue).inc()
            if counters.parse_errors & (counters.parse_errors - 1) == 0:  # 1, 2, 4, 8, ...
                log.warning("%s: rejected frame #%d (%s): %.200r", self.venue,
                            counters.parse_errors, error, frame)  # fmt: skip
            self.connector.rejects.reject(frame, str(error))
            return
        verified = self.sync.counters.checksums_verified
        counters.checksums_verified += verified - self._seen.get("checksums_verified", 0)
        self._seen["checksums_verified"] = verified
        counters.replies += await keepalive.answer(self.ws, output.replies)
        await self._carry_out(output)

    async def _carry_out(self, output: SyncOutput) -> None:
        for delta in output.deltas:
            self.connector.publish(delta)
            if delta.is_snapshot:
                self.pending.discard(delta.venue_symbol.upper())
            else:
                self._healthy = True
        if not output.resyncs:
            return
        self._count()
        for request in output.resyncs:
            log.warning("%s: resync %s: %s", self.venue, request.instrument, request.reason)
            self.pending.add(request.venue_symbol.upper())
            if request.snapshot_url is not None:
                self._fetch(request.venue_symbol, request.snapshot_url)
            for message in request.messages:
                await keepalive.send(self.ws, message)

    def _count(self) -> None:
        """Move the synchronizer's running totals into the connector's counters and Prometheus."""
        counters = self.connector.counters
        totals = {
            "gaps": (self.sync.total("gaps"), GAPS),
            "connection_gaps": (self.sync.counters.connection_gaps, GAPS),
            "resyncs": (self.sync.total("resyncs"), BOOK_RESYNCS),
            "checksum_failures": (self.sync.total("checksum_failures"), CHECKSUM_FAILURES),
        }
        for name, (total, metric) in totals.items():
            new = total - self._seen.get(name, 0)
            self._seen[name] = total
            if new:
                setattr(counters, name, getattr(counters, name) + new)
                metric.labels(self.venue).inc(new)

    def _fetch(self, symbol: str, url: str | None) -> None:
        assert self._rest is not None  # set by run() before any fetch starts
        self._fetches.start(self._rest, symbol, url, self._parse_snapshot, self._carry_out)

    def _parse_snapshot(self, symbol: str, body: bytes) -> SyncOutput:
        return self.sync.on_snapshot(body, symbol, _now_us())
