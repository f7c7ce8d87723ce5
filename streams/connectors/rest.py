"""The REST side of a live session: where requests go (the overrides), book snapshots fetched
until one applies, and the socket address of venues that hand out a token first."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from streams.connectors.config import ConnectorConfig, ConnectorCounters, backoff_delay
from streams.connectors.exceptions import ConnectorError
from streams.venues.base import SocketAddress, VenueParser
from streams.venues.exceptions import ParseError
from streams.venues.synchronizer import SyncOutput

__all__ = ["Rest", "SnapshotError", "SnapshotFetches", "rest_url", "socket_url"]

log = logging.getLogger(__name__)


class SnapshotError(ConnectorError):
    """A REST request failed (HTTP status, timeout or body)."""


def rest_url(url: str, override: str | None) -> str:
    """`url` on the override's scheme and host (a test's fake exchange), path and query kept."""
    if not override:
        return url
    target, original = urlsplit(override), urlsplit(url)
    return urlunsplit(original._replace(scheme=target.scheme, netloc=target.netloc))


def socket_url(url: str, override: str | None) -> str:
    """A token's socket URL at the override's address: only the query (the token) is kept."""
    if not override:
        return url
    target, original = urlsplit(override), urlsplit(url)
    query = "&".join(part for part in (target.query, original.query) if part)
    return urlunsplit(target._replace(query=query))


class Rest:
    """GET and POST for one connection, through the REST override, with the snapshot timeout."""

    def __init__(self, http: aiohttp.ClientSession, config: ConnectorConfig) -> None:
        self.http = http
        self.config = config

    async def get(self, url: str) -> bytes:
        return await self._request("GET", url)

    async def post(self, url: str) -> bytes:
        return await self._request("POST", url)

    async def _request(self, method: str, url: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self.config.snapshot_timeout_s)
        target = rest_url(url, self.config.rest_override)
        async with self.http.request(method, target, timeout=timeout) as response:
            body = await response.read()
            if response.status != 200:
                raise SnapshotError(f"HTTP {response.status}: {body[:200]!r}")
            return body

    async def socket_address(self, parser: VenueParser, url: str, connect_id: str) -> SocketAddress:
        """The venue's socket: `url`, or the one its token endpoint hands out (override kept)."""
        if parser.token_url is None:
            return SocketAddress(url)
        address = parser.socket_address(await self.post(parser.token_url), connect_id)
        return SocketAddress(socket_url(address.url, self.config.url_override),
                             address.ping_interval_s)  # fmt: skip


Parse = Callable[[str, bytes], SyncOutput]
CarryOut = Callable[[SyncOutput], Awaitable[None]]


class SnapshotFetches:
    """At most one fetch per instrument, retried with backoff until its body parses."""

    def __init__(
        self,
        venue: str,
        config: ConnectorConfig,
        counters: ConnectorCounters,
        rng: random.Random,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self.venue = venue
        self.config = config
        self.counters = counters
        self.rng = rng
        self.on_failure = on_failure
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(
        self, rest: Rest, symbol: str, url: str | None, parse: Parse, carry_out: CarryOut
    ) -> None:
        if url is None or symbol in self._tasks:
            return
        task = asyncio.create_task(self._until_applied(rest, symbol, url, parse, carry_out))
        self._tasks[symbol] = task
        task.add_done_callback(lambda done: self._finished(symbol, done))

    def _finished(self, symbol: str, task: asyncio.Task[None]) -> None:
        # Nobody awaits a fetch: an error in it (a DeliveryError raised by `publish`) would be
        # dropped with the task, and the records it stands for lost without a word.
        if self._tasks.get(symbol) is task:
            del self._tasks[symbol]
        if not task.cancelled() and (error := task.exception()) is not None:
            self.on_failure(error)

    def cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def _until_applied(
        self, rest: Rest, symbol: str, url: str, parse: Parse, carry_out: CarryOut
    ) -> None:
        attempt = 0
        while True:
            self.counters.snapshot_requests += 1
            try:
                output = parse(symbol, await rest.get(url))
            except (aiohttp.ClientError, TimeoutError, SnapshotError, ParseError) as error:
                self.counters.snapshot_failures += 1
                delay = backoff_delay(
                    attempt, self.config.backoff_initial_s, self.config.backoff_max_s, self.rng
                )
                attempt += 1
                log.warning("%s: snapshot %s failed (%s); retry in %.2f s", self.venue, url,
                            error, delay)  # fmt: skip
                await asyncio.sleep(delay)
                continue
            # Free the slot first: carrying out this snapshot can ask for the next one (its
            # buffered deltas do not follow it), and that request must start a fetch.
            if self._tasks.get(symbol) is asyncio.current_task():
                del self._tasks[symbol]
            await carry_out(output)
            return
