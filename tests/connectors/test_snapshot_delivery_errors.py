"""A delivery error surfacing while a REST snapshot is published ends the connector with it.

Snapshot fetches run in tasks nobody awaits; an exception dropped with such a task would leave
the records it stands for counted as published but missing from Kafka.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from streams.connectors.session import Connector, ConnectorConfig
from streams.core.types import BookDelta
from streams.fake_exchange.faults import Faults
from streams.transport import DeliveryError
from tests.connectors.test_session import VENUES, _start_server


class SnapshotsFail:
    """A delta sink whose producer reports an earlier record undelivered at the first snapshot."""

    def __init__(self) -> None:
        self.published: list[BookDelta] = []

    def publish(self, delta: BookDelta) -> None:
        if delta.is_snapshot:
            raise DeliveryError("1 record(s) failed: t.book-deltas[0]: _MSG_TIMED_OUT")
        self.published.append(delta)

    def flush(self, timeout_s: float = 30.0) -> None:
        return None


class NoRejects:
    def reject(self, frame: str | bytes, reason: str) -> None:
        raise AssertionError(f"unexpected reject: {reason}")

    def flush(self, timeout_s: float = 30.0) -> None:
        return None


async def test_a_delivery_error_in_a_rest_snapshot_fetch_ends_the_run_with_it() -> None:
    server = await _start_server("BINANCE", Faults(), 0.001, book_frames=50)
    config = ConnectorConfig(
        venue="BINANCE", symbols=VENUES["BINANCE"][1],
        url_override=server.websocket_url + "/ws", rest_override=server.rest_url,
        backoff_initial_s=0.05, backoff_max_s=0.5,
    )  # fmt: skip
    connector = Connector(config, SnapshotsFail(), NoRejects(), rng=random.Random(7))
    try:
        with pytest.raises(DeliveryError, match="_MSG_TIMED_OUT"):
            # bounded: before the fix the run went on (and the test stopped it) as if all was well
            async with asyncio.timeout(120):
                await connector.run()
    finally:
        connector.stop()
        await server.stop()
    assert connector.counters.snapshots_published == 0
