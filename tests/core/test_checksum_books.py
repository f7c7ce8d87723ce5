"""The core book, rebuilt from real Kraken and OKX recordings, matches the venues' own checksums
on every update: after each checksummed delta its top levels equal those of the checksum book
that the venue's CRC32 just verified (streams/venues/checksum.py)."""

from __future__ import annotations

import pytest

from streams.core.pipeline import Pipeline
from streams.sources.raw import DeltaReader
from tests.core.test_pipeline import RECORDINGS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("recording", "depth", "minimum"),
    [("KRAKEN.ws.50.0", 10, 4000), ("OKX.ws.1.0", 25, 250)],
)
def test_core_book_equals_the_checksum_verified_book_on_every_update(
    recording: str, depth: int, minimum: int
) -> None:
    reader = DeltaReader(None, RECORDINGS / recording)
    pipeline = Pipeline()
    compared = 0
    for delta, position in reader:
        pipeline.process(delta, position)
        if delta.checksum is None:
            continue
        synchronizer = next(iter(reader.synchronizers.values()))
        verified = synchronizer._instruments[delta.instrument].checksum_book
        bids, asks = verified.top(depth)
        book = pipeline.book(delta.instrument)
        assert book is not None
        assert book.valid
        assert book.bids.levels()[:depth] == [(float(p), float(q)) for p, q in bids], position
        assert book.asks.levels()[:depth] == [(float(p), float(q)) for p, q in asks], position
        compared += 1
    synchronizers = list(reader.synchronizers.values())
    assert sum(s.counters.checksums_verified for s in synchronizers) == compared
    failures = [
        state.sync.counters.checksum_failures
        for s in synchronizers
        for state in s._instruments.values()
    ]
    assert sum(failures) == 0
    assert compared >= minimum
