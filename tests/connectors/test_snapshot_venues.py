"""Snapshot-only venues (Huobi, Crypto.com, Hyperliquid) through their recordings.

Each push is the venue's whole top N; the synchronizer publishes differences. The book rebuilt
from what was published must equal every push, level for level.
"""

from __future__ import annotations

import gzip
import json

import pytest

from streams.sources.recording import HTTP
from streams.venues.cryptocom import heartbeat_reply
from streams.venues.exceptions import ParseError
from streams.venues.huobi import inflate, pong_message
from streams.venues.instruments import parse_instruments
from streams.venues.registry import CAPABILITIES, get_venue
from streams.venues.synchronizer import BookSynchronizer
from tests.connectors.helpers import VENUE_RECORDINGS, ReferenceBook, events, frames, rejections

pytestmark = pytest.mark.unit

SNAPSHOT_RECORDINGS = [
    # (venue, pushes in the recording, pushes equal to the one before)
    ("HUOBI", 292, 3),
    ("CRYPTO.COM", 1525, 7),
    ("HYPERLIQUID", 60, 0),
]


@pytest.mark.parametrize(("venue", "pushes", "unchanged"), SNAPSHOT_RECORDINGS)
def test_rebuilt_book_equals_every_push(venue: str, pushes: int, unchanged: int) -> None:
    synchronizer = BookSynchronizer(get_venue(venue))
    parser = get_venue(venue)
    book = ReferenceBook()
    seen = published = 0
    for frame in frames(VENUE_RECORDINGS[venue]):
        for delta in synchronizer.on_frame(frame, 1).deltas:
            book.apply(delta)
            published += 1
        for update in parser.parse(frame, 1).updates:
            push = update.delta
            seen += 1
            bids = dict(zip(push.bid_prices, push.bid_sizes, strict=True))
            asks = dict(zip(push.ask_prices, push.ask_sizes, strict=True))
            assert book.bids[push.instrument] == bids
            assert book.asks[push.instrument] == asks

    assert CAPABILITIES[venue].snapshots_only
    assert seen == pushes
    assert published == pushes - unchanged
    assert synchronizer.counters.unchanged_snapshots == unchanged
    assert book.crossed == 0


@pytest.mark.parametrize(("venue", "_pushes", "_unchanged"), SNAPSHOT_RECORDINGS)
def test_recording_has_no_rejections(venue: str, _pushes: int, _unchanged: int) -> None:
    counts = rejections(VENUE_RECORDINGS[venue], venue)

    assert set(counts.values()) == {0}, counts


def test_huobi_frames_are_gzip_and_bounded() -> None:
    parser = get_venue("HUOBI")
    frame = {"ch": "market.btcusdt.depth.step0", "ts": 1, "tick": {
        "bids": [[9.121e-7, 2.0]], "asks": [[1e-6, 1.0]], "version": 5, "ts": 2}}  # fmt: skip
    bomb = gzip.compress(b'{"ping":' + b" " * (9 * 1024 * 1024) + b"1}")

    (update,) = parser.parse(gzip.compress(json.dumps(frame).encode()), 7).updates
    assert (update.delta.symbol, update.delta.bid_prices, update.delta.event_time) == (
        "BTC-USDT",
        (9.121e-7,),
        2000,
    )
    assert parser.parse(gzip.compress(b'{"ping": 1618678073643}'), 1).updates == ()
    assert pong_message(1618678073643) == '{"pong": 1618678073643}'
    with pytest.raises(ParseError, match="inflates past"):
        inflate(bomb)
    with pytest.raises(ParseError, match="gzip"):
        parser.parse(b"\x1f\x8bnot gzip", 1)
    assert get_venue("HUOBI").normalise("yfihusd") == "YFI-HUSD"


def test_cryptocom_heartbeat_and_subscriptions() -> None:
    parser = get_venue("CRYPTO.COM")
    heartbeat = {"id": 1637709519420, "method": "public/heartbeat"}

    assert parser.parse(json.dumps(heartbeat), 1).updates == ()
    assert json.loads(heartbeat_reply(heartbeat) or "{}") == {
        "id": 1637709519420,
        "method": "public/respond-heartbeat",
    }
    assert heartbeat_reply({"method": "subscribe"}) is None
    subscribe = json.loads(parser.subscribe_messages(["MATIC_USDT", "HNT_USDT"])[0])
    assert subscribe["params"]["channels"] == ["book.MATIC_USDT.150", "book.HNT_USDT.150"]


@pytest.mark.parametrize(
    ("venue", "metadata", "instrument", "tick"),
    [
        ("HUOBI", "HUOBI.0", "HUOBI:YFI-HUSD", 0.01),
        ("CRYPTO.COM", "CRYPTO.COM.jsonl.zst", "CRYPTO.COM:MATIC-USDT", 1e-5),
    ],
)
def test_contract_specs_from_the_recorded_instrument_list(
    venue: str, metadata: str, instrument: str, tick: float
) -> None:
    entries = {
        entry.instrument: entry
        for event in events(metadata)
        if event.kind == HTTP
        for entry in parse_instruments(venue, event.address, event.data)
    }

    spec = entries[instrument].spec
    assert (spec.kind, spec.contract_size, spec.settlement) == ("spot", 1.0, spec.quote)
    assert spec.tick_size == pytest.approx(tick)
    assert set(entries[instrument].sources) >= {"kind", "base", "quote", "tick_size"}
