"""The one websocket + REST session shell every venue runs in.

A venue module declares URLs, subscribe messages, the snapshot request and its sync rule; the
`BookSynchronizer` decides per frame what to publish and what to resync. This shell carries that
out: connect, subscribe (symbols split across connections at the venue's per-connection limit),
feed every frame to the synchronizer, publish the deltas, and on a resync request fetch a REST
snapshot or send the venue's resubscribe messages. A connection that stays silent longer than
`stale_after_s` is closed; every lost connection reconnects after an exponential backoff with full
jitter, and every instrument on it resyncs from a fresh snapshot (published `is_snapshot=True`).
Frames that do not parse go to the dead-letter topic and are counted; nothing else is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from prometheus_client import Counter

from streams.config import Settings
from streams.connectors.exceptions import ConnectorError
from streams.core.types import BookDelta
from streams.observability import BOOK_RESYNCS, CHECKSUM_FAILURES
from streams.venues.base import MAX_FRAME_BYTES, SnapshotSource, VenueParser
from streams.venues.exceptions import ParseError
from streams.venues.instruments import bundled_registry
from streams.venues.registry import get_venue
from streams.venues.synchronizer import BookSynchronizer, SyncOutput

__all__ = [
    "Connector",
    "ConnectorConfig",
    "ConnectorCounters",
    "DeadLetterSink",
    "DeltaSink",
    "FrameRejects",
    "backoff_delay",
    "run_connector",
]

log = logging.getLogger(__name__)

GAPS = Counter("streams_connector_gaps", "Sequence gaps detected", ["venue"])
RECONNECTS = Counter("streams_connector_reconnects", "Websocket reconnects", ["venue"])
STALE = Counter("streams_connector_stale_connections", "Connections closed as silent", ["venue"])
PARSE_ERRORS = Counter("streams_connector_parse_errors", "Frames that did not parse", ["venue"])
PUBLISHED = Counter("streams_connector_deltas", "Book deltas handed to the producer", ["venue"])

INSTRUMENTS_TIMEOUT_S = 10.0  # per instrument endpoint at start; the snapshot covers a failure
SUBSCRIBE_SPACING_S = 0.25  # Binance allows 5 requests/s per connection; others are looser


class SnapshotError(ConnectorError):
    """A REST snapshot request failed (HTTP status, timeout or body)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorConfig:
    """What to connect to; validated when built. Symbols are spelled as the venue spells them."""

    venue: str
    symbols: tuple[str, ...]
    topic: str | None = None  # default: the settings' book-deltas topic
    url_override: str | None = None  # websocket URL instead of the venue's
    rest_override: str | None = None  # scheme://host:port replacing the venue's REST host
    stale_after_s: float = 30.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    connect_timeout_s: float = 10.0
    snapshot_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        get_venue(self.venue)  # UnknownVenueError names the known venues
        if not self.symbols or any(not symbol.strip() for symbol in self.symbols):
            raise ConnectorError(f"{self.venue}: give at least one symbol, none empty")
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.endswith("_s") and not value > 0:
                raise ConnectorError(f"{item.name} must be > 0, got {value}")


@dataclass(slots=True)
class ConnectorCounters:
    """Totals over every connection of one connector (also exported as Prometheus counters)."""

    messages: int = 0
    published: int = 0
    snapshots_published: int = 0
    parse_errors: int = 0
    gaps: int = 0
    connection_gaps: int = 0
    checksum_failures: int = 0
    checksums_verified: int = 0
    resyncs: int = 0
    reconnects: int = 0
    stale_connections: int = 0
    snapshot_requests: int = 0
    snapshot_failures: int = 0


class DeltaSink(Protocol):
    """Where deltas go: `streams.transport.DeltaPublisher` in production."""

    def publish(self, delta: BookDelta) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


class FrameRejects(Protocol):
    """Where unparseable frames go, with the reason."""

    def reject(self, frame: str | bytes, reason: str) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...


def backoff_delay(attempt: int, initial_s: float, maximum_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(maximum, initial * 2**attempt)]."""
    ceiling = min(maximum_s, initial_s * (2 ** min(attempt, 32)))
    return rng.uniform(0.0, ceiling)


def _now_us() -> int:
    return time.time_ns() // 1_000


class _Connection:
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
        self._http: aiohttp.ClientSession | None = None
        self._fetches: dict[str, asyncio.Task[None]] = {}
        self._seen: dict[str, int] = {}
        self._healthy = False

    @property
    def synced(self) -> bool:
        return self.ws is not None and not self.ws.closed and not self.pending

    async def run(self, http: aiohttp.ClientSession) -> None:
        self._http = http
        attempt = 0
        while True:
            self._healthy = False
            reason = "closed by the venue"
            try:
                reason = await self._session(http)
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                reason = f"{type(error).__name__}: {error}"
            except asyncio.CancelledError:
                await self._close()  # stopping: no resync, nothing more to publish
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

    async def _session(self, http: aiohttp.ClientSession) -> str:
        async with asyncio.timeout(self.config.connect_timeout_s):
            self.ws = await http.ws_connect(self.url, max_msg_size=MAX_FRAME_BYTES, autoping=True)
        log.info("%s: connected to %s for %d symbol(s)", self.venue, self.url, len(self.symbols))
        for index, request in enumerate(self.sync.parser.subscribe_messages(self.symbols)):
            if index:
                await asyncio.sleep(SUBSCRIBE_SPACING_S)
            await self.ws.send_str(request)
        if self.sync.parser.capabilities.snapshot_source == SnapshotSource.REST:
            for symbol in self.symbols:
                self._fetch(symbol, self.sync.parser.snapshot_url(symbol))
        while True:
            try:
                async with asyncio.timeout(self.config.stale_after_s):
                    message = await self.ws.receive()
            except TimeoutError:
                self.connector.counters.stale_connections += 1
                STALE.labels(self.venue).inc()
                return f"no message for {self.config.stale_after_s} s (stale)"
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                await self._on_frame(message.data)
            elif message.type == aiohttp.WSMsgType.ERROR:
                return f"websocket error: {message.data}"
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return f"closed by the venue (code {self.ws.close_code})"

    async def _close(self) -> None:
        for task in self._fetches.values():
            task.cancel()
        self._fetches.clear()
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
                if self.ws is not None and not self.ws.closed:
                    await self.ws.send_str(message)

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

    # -- REST snapshots ------------------------------------------------------------------------
    def _fetch(self, symbol: str, url: str | None) -> None:
        if url is None or symbol in self._fetches:
            return
        task = asyncio.create_task(self._fetch_until_applied(symbol, self._rest_url(url)))
        self._fetches[symbol] = task
        task.add_done_callback(lambda done: self._fetched(symbol, done))

    def _fetched(self, symbol: str, task: asyncio.Task[None]) -> None:
        # Nobody awaits a fetch: an error in it (a DeliveryError raised by `publish`) would be
        # dropped with the task, and the records it stands for lost without a word.
        if self._fetches.get(symbol) is task:
            del self._fetches[symbol]
        if not task.cancelled() and (error := task.exception()) is not None:
            self.connector.fail(error)

    def _rest_url(self, url: str) -> str:
        override = self.config.rest_override
        if not override:
            return url
        target, original = urlsplit(override), urlsplit(url)
        return urlunsplit(original._replace(scheme=target.scheme, netloc=target.netloc))

    async def _fetch_until_applied(self, symbol: str, url: str) -> None:
        counters = self.connector.counters
        attempt = 0
        while True:
            counters.snapshot_requests += 1
            try:
                body = await self._get(url)
                output = self.sync.on_snapshot(body, symbol, _now_us())
            except (aiohttp.ClientError, TimeoutError, SnapshotError, ParseError) as error:
                counters.snapshot_failures += 1
                delay = backoff_delay(
                    attempt, self.config.backoff_initial_s, self.config.backoff_max_s,
                    self.connector.rng,
                )  # fmt: skip
                attempt += 1
                log.warning("%s: snapshot %s failed (%s); retry in %.2f s", self.venue, url,
                            error, delay)  # fmt: skip
                await asyncio.sleep(delay)
                continue
            await self._carry_out(output)
            return

    async def _get(self, url: str) -> bytes:
        assert self._http is not None  # set by run() before any fetch starts
        timeout = aiohttp.ClientTimeout(total=self.config.snapshot_timeout_s)
        async with self._http.get(url, timeout=timeout) as response:
            body = await response.read()
            if response.status != 200:
                raise SnapshotError(f"HTTP {response.status}: {body[:200]!r}")
            return body


class Connector:
    """Every connection of one venue; `run` until `stop`, then flush what was produced."""

    def __init__(
        self,
        config: ConnectorConfig,
        sink: DeltaSink,
        rejects: FrameRejects,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.rejects = rejects
        self.rng = rng or random.Random()
        self.counters = ConnectorCounters()
        self.instruments = bundled_registry()  # replaced by the live endpoint's in `run`
        self._stop = asyncio.Event()
        self._failure: BaseException | None = None
        probe = get_venue(config.venue)
        self.venue = probe.capabilities.exchange
        limit = probe.capabilities.max_subscriptions or len(config.symbols)
        # The parser's default endpoint; a parser built on an override keeps the override.
        url = config.url_override or getattr(probe, "endpoint", "")
        if not url:
            raise ConnectorError(f"{self.venue}: no websocket URL; pass --url-override")
        self.connections = [
            _Connection(self, get_venue(config.venue, url), url, config.symbols[i : i + limit])
            for i in range(0, len(config.symbols), limit)
        ]

    @property
    def synced(self) -> bool:
        """Every connection is up and every symbol has had its snapshot since the last resync."""
        return all(connection.synced for connection in self.connections)

    def publish(self, delta: BookDelta) -> None:
        # Sizes in base units from here on (checksums were verified on the venue's units).
        delta = self.instruments.convert(delta)
        self.sink.publish(delta)  # raises DeliveryError on an earlier failed delivery
        self.counters.published += 1
        PUBLISHED.labels(self.venue).inc()
        if delta.is_snapshot:
            self.counters.snapshots_published += 1

    async def _load_instruments(self, http: aiohttp.ClientSession) -> None:
        """The venue's contract specs from its instrument endpoint (bundled snapshot on failure)."""
        from streams.venues.instruments import fetch_registry

        async def get(url: str) -> bytes:
            timeout = aiohttp.ClientTimeout(total=INSTRUMENTS_TIMEOUT_S)
            async with http.get(url, timeout=timeout) as response:
                if response.status != 200:
                    raise SnapshotError(f"HTTP {response.status}")
                return await response.read()

        self.instruments = await fetch_registry(self.venue, get, self.connections[0]._rest_url)

    def stop(self) -> None:
        """Ask `run` to end (signal handlers call this); it then flushes and returns."""
        self._stop.set()

    def fail(self, error: BaseException) -> None:
        """End `run` with `error` (from a task nobody awaits, e.g. a REST snapshot fetch)."""
        log.error("%s: %s: %s", self.venue, type(error).__name__, error)
        if self._failure is None:
            self._failure = error
        self._stop.set()

    async def run(self) -> None:
        """Run every connection until `stop` or a delivery error, then flush both producers."""
        try:
            async with aiohttp.ClientSession() as http:
                await self._load_instruments(http)
                await self._run_connections(http)
        finally:
            self.sink.flush()
            self.rejects.flush()
            log.info("%s: stopped; %s", self.venue, self.counters)

    async def _run_connections(self, http: aiohttp.ClientSession) -> None:
        tasks = [asyncio.create_task(c.run(http)) for c in self.connections]
        stopper = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*tasks, stopper):
                task.cancel()
            outcomes = await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome  # a connection failed: surface it (DeliveryError, a bug)
        if self._failure is not None:
            raise self._failure


class DeadLetterSink:
    """Produce rejected frames to the dead-letter topic, reason and venue in headers."""

    def __init__(self, settings: Settings, venue: str, topic: str | None = None) -> None:
        from streams.transport import KafkaOutputSink

        self.topic = topic or settings.topics.dead_letter
        self.venue = venue.upper()
        self._out = KafkaOutputSink(settings)

    def reject(self, frame: str | bytes, reason: str) -> None:
        value = frame.encode() if isinstance(frame, str) else frame
        from streams.dead_letters import headers

        self._out.produce(
            self.topic,
            self.venue.encode(),
            value,
            headers(reason, source=f"connector:{self.venue}"),
        )
        self._out.serve_deliveries()

    def flush(self, timeout_s: float = 30.0) -> None:
        self._out.flush(timeout_s)


def run_connector(
    settings: Settings,
    config: ConnectorConfig,
    started: Callable[[Connector, asyncio.AbstractEventLoop], None] | None = None,
) -> ConnectorCounters:
    """Run until SIGINT or SIGTERM, flush, and return the counters (the CLI's `connect`).

    `started` gets the connector and its event loop before the first connection (health pages).
    """
    from streams.codec import TopicCodecs
    from streams.operations import on_stop_signals
    from streams.transport import DeltaPublisher

    publisher = DeltaPublisher(settings, TopicCodecs.register(settings), config.topic)
    connector = Connector(config, publisher, DeadLetterSink(settings, config.venue))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        on_stop_signals("connector", connector.stop, loop)  # a stuck stop exits 75
        if started is not None:
            started(connector, loop)
        await connector.run()

    asyncio.run(main())
    return connector.counters
