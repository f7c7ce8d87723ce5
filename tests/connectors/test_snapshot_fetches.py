"""A REST snapshot whose own outcome asks for the next snapshot gets it.

When a snapshot arrives older than the deltas buffered behind it, carrying it out asks for a
new one while the fetch that brought it is still finishing; that request must start a fetch,
or the instrument waits for a snapshot nobody fetches (its deltas buffered, never published).
"""

from __future__ import annotations

import asyncio
import random

from streams.connectors.config import ConnectorConfig, ConnectorCounters
from streams.connectors.rest import SnapshotFetches
from streams.venues.synchronizer import SyncOutput


class CountingRest:
    def __init__(self) -> None:
        self.urls: list[str] = []

    async def get(self, url: str) -> bytes:
        self.urls.append(url)
        return b"{}"


async def test_a_resync_asked_for_while_a_snapshot_is_carried_out_starts_a_new_fetch() -> None:
    config = ConnectorConfig(venue="BINANCE", symbols=("BTCUSDT",), backoff_initial_s=0.01)
    errors: list[BaseException] = []
    fetches = SnapshotFetches(
        "BINANCE", config, ConnectorCounters(), random.Random(1), errors.append
    )
    rest = CountingRest()
    done = asyncio.Event()

    async def carry_out(output: SyncOutput) -> None:
        if len(rest.urls) == 1:  # the first snapshot is stale: ask for another, as a resync does
            fetches.start(rest, "BTCUSDT", "https://x/depth", parse, carry_out)  # type: ignore[arg-type]
        else:
            done.set()

    def parse(symbol: str, body: bytes) -> SyncOutput:
        return SyncOutput()

    fetches.start(rest, "BTCUSDT", "https://x/depth", parse, carry_out)  # type: ignore[arg-type]
    async with asyncio.timeout(10):
        await done.wait()
    assert (len(rest.urls), errors) == (2, [])
