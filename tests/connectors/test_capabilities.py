"""One test over every row of the capability table, and the checksum reference algorithms."""

from __future__ import annotations

import json

import pytest

from streams.core.sync import SequenceRule
from streams.sources.raw import DeltaReader
from streams.sources.recording import RECV, read_recording
from streams.venues.base import SnapshotSource, VenueParser
from streams.venues.exceptions import UnknownVenueError
from streams.venues.kraken import kraken_checksum
from streams.venues.okx import okx_checksum
from streams.venues.registry import CAPABILITIES, get_venue, venue_names
from streams.venues.synchronizer import BookSynchronizer
from tests.connectors.helpers import VENUE_RECORDINGS, recording

pytestmark = pytest.mark.unit

# One recording per table row, so adding a venue without a recorded test fails here.
ROW_RECORDINGS = VENUE_RECORDINGS


# The OKX/OKCoin recordings predate `seqId`; test_okx_seq_id_chain covers the rule instead.
RECORDED_BEFORE_SEQUENCE_NUMBERS = {"OKX", "OKCOIN"}


def test_every_row_has_a_recording() -> None:
    assert sorted(ROW_RECORDINGS) == venue_names()


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
def test_capability_row_matches_parser_behaviour(name: str) -> None:
    row = CAPABILITIES[name]
    parser = get_venue(name.lower())
    reader = DeltaReader(name, recording(ROW_RECORDINGS[name]))
    deltas = [delta for delta, _ in reader]

    assert isinstance(parser, VenueParser)
    assert row.exchange == name == name.upper()
    assert row.docs
    assert parser.subscribe_messages(["X"])
    assert all(json.loads(m) for m in parser.subscribe_messages(["X"]))
    assert deltas
    assert deltas[0].is_snapshot
    assert all(delta.exchange == name for delta in deltas)
    if row.snapshot_source == SnapshotSource.REST:
        assert parser.snapshot_url("BTCUSDT") is not None
        assert reader.counters.snapshots_applied > 0
    else:
        assert parser.snapshot_url("BTCUSDT") is None
    checksummed = sum(s.counters.checksums_verified for s in reader.synchronizers.values())
    assert (checksummed > 0) == (row.checksum is not None)
    assert (parser.new_checksum_book() is not None) == (row.checksum is not None)
    sequenced = any(delta.sequence is not None for delta in deltas)
    if name not in RECORDED_BEFORE_SEQUENCE_NUMBERS:
        assert sequenced == (row.sequence_rule is not SequenceRule.NONE or row.connection_sequence)
    if row.max_subscriptions is not None:
        assert row.max_subscriptions > 0


def test_unknown_venue_is_a_typed_error() -> None:
    with pytest.raises(UnknownVenueError, match="known"):
        get_venue("NOPE")


@pytest.mark.parametrize(
    ("name", "reference"), [("KRAKEN.ws.50.0", "kraken"), ("OKX.ws.1.0", "okx")]
)
def test_library_checksum_agrees_with_the_reference_algorithm(name: str, reference: str) -> None:
    synchronizer = BookSynchronizer(get_venue(name.split(".")[0]))

    compared = 0
    for event in read_recording(recording(name)):
        if event.kind != RECV:
            continue
        synchronizer.on_frame(event.data, event.time_us)
        for state in synchronizer._instruments.values():  # test peeks at the per-instrument book
            book = state.checksum_book
            assert book is not None
            bids, asks = book.top(25)
            if reference == "kraken":
                assert kraken_checksum(bids, asks) == synchronizer.parser.checksum(book)
            else:
                assert okx_checksum(bids, asks) == synchronizer.parser.checksum(book)
            compared += 1
        if compared > 2000:
            break
    assert compared > 100


def _okx_frame(action: str, sequence: int, previous: int, bid: str) -> str:
    body = {"asks": [["101", "1", "0", "1"]], "bids": [[bid, "2", "0", "1"]], "ts": "1652459225464"}
    body |= {"seqId": sequence, "prevSeqId": previous}
    body["checksum"] = 0  # replaced below with the real value for this one-level book
    return json.dumps(
        {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action, "data": [body]}
    )


def test_okx_seq_id_chain_detects_a_gap() -> None:
    synchronizer = BookSynchronizer(get_venue("OKX"))
    parser = synchronizer.parser

    def frame(action: str, sequence: int, previous: int) -> str:
        message = json.loads(_okx_frame(action, sequence, previous, "100"))
        message["data"][0]["checksum"] = okx_checksum([("100", "2")], [("101", "1")])
        return json.dumps(message)

    outputs = [
        synchronizer.on_frame(frame("snapshot", 10, -1), 1),
        synchronizer.on_frame(frame("update", 11, 10), 2),
        synchronizer.on_frame(frame("update", 15, 13), 3),
    ]

    assert [len(output.deltas) for output in outputs] == [1, 1, 0]
    assert outputs[2].resyncs[0].messages == tuple(parser.resubscribe_messages("BTC-USDT"))
    assert synchronizer.total("gaps") == 1
    assert synchronizer.counters.checksums_verified == 2
