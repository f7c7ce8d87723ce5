"""Bitfinex book against its recording: connection sequence, checksums, resync of one book."""

from __future__ import annotations

import json
import zlib

import pytest

from streams.sources.raw import DeltaReader
from streams.sources.recording import HTTP, RECV, read_recording
from streams.venues.bitfinex import bitfinex_checksum
from streams.venues.instruments import parse_instruments
from streams.venues.registry import get_venue
from tests.connectors.helpers import ReferenceBook, events, recording, rejections
from tests.fixtures import bitfinex

pytestmark = pytest.mark.unit

NAME = "BITFINEX.ws.11.0"


def _signed(text: str) -> int:
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def test_recording_has_no_rejection_and_never_crosses() -> None:
    counts = rejections(NAME)
    reader = DeltaReader(None, recording(NAME))
    deltas = [delta for delta, _ in reader]

    assert set(counts.values()) == {0}, counts
    assert len(deltas) == 7 + 1593
    assert sum(delta.is_snapshot for delta in deltas) == 7
    assert ReferenceBook().apply_all(deltas).crossed == 0
    assert all(delta.sequence is not None for delta in deltas)


def test_every_checksum_of_the_rewritten_recording_verifies() -> None:
    reader = DeltaReader("BITFINEX", bitfinex.FIXTURE)
    deltas = [delta for delta, _ in reader]

    (synchronizer,) = reader.synchronizers.values()
    assert synchronizer.counters.checksums_verified == 7 + 1593
    assert synchronizer.total("checksum_failures") == 0
    assert len(deltas) == 7 + 1593  # checksum frames publish nothing
    assert all(delta.checksum is None for delta in deltas)


def test_checksum_format_follows_the_official_client() -> None:
    bids = [("6000", "1"), ("5900", "2")]
    asks = [("6100", "3"), ("6200", "4")]

    assert bitfinex_checksum(bids, asks) == _signed("6000:1:6100:-3:5900:2:6200:-4")
    bids[1] = ("1.7e-08", "2")  # exponent prices are written out in fixed notation
    assert bitfinex_checksum(bids, asks) == _signed("6000:1:6100:-3:0.000000017:2:6200:-4")


def test_a_wrong_checksum_resyncs_that_book_only() -> None:
    recorded = events(str(bitfinex.FIXTURE))
    victim = [i for i, e in enumerate(recorded) if e.kind == RECV and '"cs"' in str(e.data)][900]
    frame = json.loads(recorded[victim].data)
    frame[2] += 1
    corrupted = [*recorded[:victim], recorded[victim].__class__(
        RECV, recorded[victim].connection, recorded[victim].time_us, json.dumps(frame)
    ), *recorded[victim + 1 :]]  # fmt: skip
    reader = DeltaReader("BITFINEX", bitfinex.FIXTURE)

    list(reader.replay(corrupted))

    (synchronizer,) = reader.synchronizers.values()
    failed = {k: c for k, c in synchronizer.instrument_counters().items() if c.checksum_failures}
    assert len(failed) == 1
    assert reader.counters.resync_requests == 1
    assert synchronizer.total("resyncs") == 1


def test_a_lost_frame_resyncs_every_book_of_the_connection() -> None:
    recorded = events(NAME)
    victim = next(i for i, e in enumerate(recorded) if e.kind == RECV and i > 1000)
    reader = DeltaReader(None, recording(NAME))

    list(reader.replay(recorded[:victim] + recorded[victim + 1 :]))

    (synchronizer,) = reader.synchronizers.values()
    assert synchronizer.counters.connection_gaps == 1
    assert reader.counters.resync_requests == 7


def test_symbols_and_subscription() -> None:
    parser = get_venue("BITFINEX")
    normalise = parser.normalise  # type: ignore[attr-defined]

    assert normalise("tBTCUSD") == "BTC-USD"
    assert normalise("tAAVE:UST") == "AAVE-USDT"
    assert normalise("tBTCF0:USTF0") == "BTC-USDT-PERP"
    assert normalise("tIOTETH") == "IOTA-ETH"
    conf, book = (json.loads(m) for m in parser.subscribe_messages(["tBTCUSD"]))
    assert conf == {"event": "conf", "flags": 65536 + 131072}
    assert (book["channel"], book["prec"], book["len"]) == ("book", "P0", "100")
    parser.parse('{"event":"subscribed","channel":"book","chanId":7,"symbol":"tBTCUSD"}', 1)
    unsubscribe, subscribe = (json.loads(m) for m in parser.resubscribe_messages("tBTCUSD"))
    assert unsubscribe == {"event": "unsubscribe", "chanId": 7}
    assert subscribe["symbol"] == "tBTCUSD"


def test_contract_specs_from_the_recorded_pair_lists() -> None:
    entries = {
        entry.instrument: entry.spec
        for event in read_recording(recording("BITFINEX.0"))
        if event.kind == HTTP
        for entry in parse_instruments("BITFINEX", event.address, event.data)
    }

    assert entries["BITFINEX:BTC-USDT-PERP"].kind == "linear"
    assert entries["BITFINEX:AAVE-USDT"].settlement == "USDT"
    assert entries["BITFINEX:IOTA-ETH"].kind == "spot"
    assert "BITFINEX:TESTBTC-TESTUSD" in entries
