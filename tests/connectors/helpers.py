"""Shared helpers for connector tests: where the real recordings live, and a tiny reference book.

The reference book is deliberately naive (two dicts): it checks the deltas we publish, and must
not share code with the parsers under test.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from streams.config import shared_recordings
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta
from streams.simulate.backgrounds import apply_levels
from streams.sources.raw import DeltaReader
from streams.sources.recording import RECV, RecordedEvent, read_recording_set
from streams.venues.registry import get_venue
from tests.fixtures import bitfinex, hyperliquid

RECORDINGS = shared_recordings()


def recording(name: str) -> Path:
    """Path of one recording; skip the test when the shared data is not mounted."""
    path = RECORDINGS / name
    if not path.exists():
        pytest.skip(f"recording {path} not available")
    return path


def events(name: str) -> list[RecordedEvent]:
    return list(read_recording_set(recording(name)))


# One real recording per venue of the capability table.
VENUE_RECORDINGS = {
    "BINANCE": "BINANCE.ws.1.0",
    "BINANCE_US": "BINANCE_US.ws.1.0",
    "BINANCE_FUTURES": "BINANCE_FUTURES.ws.1.0",
    "BINANCE_DELIVERY": "BINANCE_DELIVERY.ws.1.0",
    "BITFINEX": str(bitfinex.FIXTURE),  # the recording with the checksum frames it lacks
    "BITMEX": "BITMEX.ws.1.0",
    "BITSTAMP": "BITSTAMP.ws.1.0",
    "BYBIT": "BYBIT.jsonl.zst",
    "COINBASE": "COINBASE.jsonl.zst",
    "DERIBIT": "DERIBIT.ws.1.0",
    "GEMINI": "GEMINI.ws.1.0",
    "KRAKEN": "KRAKEN.ws.50.0",
    "KRAKEN_FUTURES": "KRAKEN_FUTURES.ws.1.0",
    "KUCOIN": "KUCOIN.ws.1.0",
    "HUOBI": "HUOBI.ws.44.0",
    "CRYPTO.COM": "CRYPTO.COM.jsonl.zst",
    "HYPERLIQUID": str(hyperliquid.FIXTURE),  # no recording: real archive books, live format
    "OKX": "OKX.ws.1.0",
    "OKCOIN": "OKCOIN.ws.1.0",
}


def book_frames(venue: str, max_chars: int, count: int) -> tuple[str, ...]:
    """Up to `count` real frames of the venue, shorter than `max_chars`, that carry book updates."""
    parser = get_venue(venue)
    chosen: list[str] = []
    for frame in frames(VENUE_RECORDINGS[venue]):
        # binary frames are gzip (Huobi); every parser also reads the JSON text itself
        text = frame if isinstance(frame, str) else gzip.decompress(frame).decode()
        if len(text) < max_chars and parser.parse(text, 1).updates:
            chosen.append(text)
        if len(chosen) == count:
            break
    return tuple(chosen)


def frames(name: str) -> Iterator[str | bytes]:
    for event in events(name):
        if event.kind == RECV:
            yield event.data


class ReferenceBook:
    """Bids and asks per instrument, applying published deltas (size 0 deletes)."""

    def __init__(self) -> None:
        self.bids: dict[str, dict[float, float]] = {}
        self.asks: dict[str, dict[float, float]] = {}
        self.crossed = 0

    def apply(self, delta: BookDelta) -> None:
        key = delta.instrument
        if delta.is_snapshot:
            self.bids[key], self.asks[key] = {}, {}
        apply_levels(self.bids[key], delta.bid_prices, delta.bid_sizes)
        apply_levels(self.asks[key], delta.ask_prices, delta.ask_sizes)
        bids, asks = self.bids[key], self.asks[key]
        if bids and asks and max(bids) >= min(asks):
            self.crossed += 1

    def apply_all(self, deltas: Iterable[BookDelta]) -> ReferenceBook:
        for delta in deltas:
            self.apply(delta)
        return self


# What a read or the core book can refuse; each must be zero or explained in docs/connectors.md.
SYNC_REJECTIONS = (
    "gaps", "resyncs", "checksum_failures", "stale_drops", "unsynced_drops", "buffer_overflows",
)  # fmt: skip


def rejections(name: str, venue: str | None = None) -> dict[str, int]:
    """Every rejection class of one recording through the reader and the pipeline, by name."""
    reader = DeltaReader(venue, recording(name))
    pipeline = Pipeline()
    for delta, position in reader:
        pipeline.process(delta, position)
    counts = {
        "parse_errors": reader.counters.parse_errors,
        "resync_requests": reader.counters.resync_requests,
        "connection_gaps": sum(s.counters.connection_gaps for s in reader.synchronizers.values()),
        **{
            name: sum(s.total(name) for s in reader.synchronizers.values())
            for name in SYNC_REJECTIONS
        },
        "book_gaps": pipeline.counters.gaps,
        "book_crossed": pipeline.counters.crossed,
        "book_dropped_invalid": pipeline.counters.dropped_invalid,
    }
    return counts
