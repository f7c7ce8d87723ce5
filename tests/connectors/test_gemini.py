"""Gemini l2 against both recordings: the first update per symbol is its book, nothing refused."""

from __future__ import annotations

import json

import pytest

from streams.sources.raw import DeltaReader
from streams.sources.recording import HTTP, read_recording
from streams.venues.instruments import parse_instruments
from streams.venues.registry import get_venue
from tests.connectors.helpers import ReferenceBook, recording, rejections

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("name", "books", "packets"), [
    ("GEMINI.ws.1.0", 10, 655), ("GEMINI.jsonl.zst", 10, 559),
])  # fmt: skip
def test_recordings_have_no_rejection_and_never_cross(name: str, books: int, packets: int) -> None:
    counts = rejections(name)
    deltas = [delta for delta, _ in DeltaReader(None, recording(name))]

    assert set(counts.values()) == {0}, counts
    assert len(deltas) == packets
    assert sum(delta.is_snapshot for delta in deltas) == books
    assert len({delta.instrument for delta in deltas}) == books
    assert ReferenceBook().apply_all(deltas).crossed == 0


def test_symbols_resubscribe_and_specs() -> None:
    parser = get_venue("GEMINI")
    normalise = parser.normalise  # type: ignore[attr-defined]
    frame = '{"type":"l2_updates","symbol":"BTCUSD","changes":[["buy","1","2"]]}'

    assert [normalise(s) for s in ("GRTUSD", "ZECLTC", "BTCGUSDPERP")] == [
        "GRT-USD", "ZEC-LTC", "BTC-GUSD-PERP",
    ]  # fmt: skip
    assert parser.parse(frame, 1).updates[0].delta.is_snapshot
    assert not parser.parse(frame, 2).updates[0].delta.is_snapshot
    unsubscribe, subscribe = (json.loads(m) for m in parser.resubscribe_messages("BTCUSD"))
    assert (unsubscribe["type"], subscribe["type"]) == ("unsubscribe", "subscribe")
    assert parser.parse(frame, 3).updates[0].delta.is_snapshot  # the new subscription's book
    specs = {
        entry.instrument: entry.spec
        for event in read_recording(recording("GEMINI.0"))
        if event.kind == HTTP
        for entry in parse_instruments("GEMINI", event.address, event.data)
    }
    assert (specs["GEMINI:BTC-GBP"].quote, specs["GEMINI:BTC-GBP"].tick_size) == ("GBP", 0.01)
