"""The one websocket + REST session shell every venue runs in.

A venue module declares URLs, subscribe messages, the snapshot request and its sync rule; the
`BookSynchronizer` decides per frame what to publish and what to resync. This shell carries that
out: connect, subscribe (symbols split across connections at the venue's per-connection limit),
feed every frame to the synchronizer, publish the deltas, and on a resync request fetch a REST
snapshot or send the venue's resubscribe messages. A connection that stays silent longer than
`stale_after_s` is closed; every lost connection reconnects after an exponential backoff with full
jitter, and every instrument on it resyncs from a fresh snapshot (published `is_snapshot=True`).
Frames that do not parse go to the dead-letter topic and are counted; nothing else is dropped.
Venues that demand it get their heartbeats answered and their client pings, and those that hand
out a socket token get asked for one before each connect. One `connection.Connection` per socket;
REST in `rest`, keeping the socket open in `keepalive`, the settings and counters in `config`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import aiohttp
from prometheus_client import Counter

from streams.config import Settings
from streams.connectors.config import (
    ConnectorConfig,
    ConnectorCounters,
    DeltaSink,
    FrameRejects,
    backoff_delay,
)
from streams.connectors.connection import Connection
from streams.connectors.exceptions import ConnectorError
from streams.connectors.rest import SnapshotError, rest_url
from streams.core.types import BookDelta
from streams.venues.instruments import bundled_registry
from streams.venues.registry import get_venue

__all__ = [
    "Connector",
    "ConnectorConfig",
    "ConnectorCounters",
    "DeadLetterSink",
    "DeltaSink",
    "FrameRejects",
    "SnapshotError",
    "backoff_delay",
    "run_connector",
]

log = logging.getLogger(__name__)

PUBLISHED = Counter("streams_connector_deltas", "Book deltas handed to the producer", ["venue"])

INSTRUMENTS_TIMEOUT_S = 10.0  # per instrument endpoint at start; the snapshot covers a failure


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
            Connection(self, get_venue(config.venue, url), url, config.symbols[i : i + limit])
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

        def rewrite(url: str) -> str:
            return rest_url(url, self.config.rest_override)

        self.instruments = await fetch_registry(self.venue, get, rewrite)

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
