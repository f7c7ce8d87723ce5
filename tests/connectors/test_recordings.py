"""Every main venue parser and the synchronizer against the real cryptofeed recordings."""

from __future__ import annotations

import pytest

from streams.sources.raw import DeltaReader
from streams.sources.recording import CONNECT, RECV
from streams.venues.registry import get_venue
from streams.venues.synchronizer import BookSynchronizer
from tests.connectors.helpers import ReferenceBook, events, recording

pytestmark = pytest.mark.unit

CHECKSUM_RECORDINGS = [
    # (file, checksummed updates the README counted)
    ("KRAKEN.ws.50.0", 4269),
    ("OKX.ws.1.0", 290),
    ("OKCOIN.ws.1.0", 6),
]

SEQUENCED_RECORDINGS = [
    # (file, instruments with a book, minimum published deltas)
    ("BINANCE.ws.1.0", 4, 150),
    ("BINANCE_US.ws.1.0", 4, 300),
    ("BINANCE_FUTURES.ws.1.0", 4, 700),
    ("BINANCE_DELIVERY.ws.1.0", 10, 1700),
    ("BYBIT.jsonl.zst", 6, 2100),
    ("COINBASE.jsonl.zst", 2, 770),
    ("DERIBIT.ws.1.0", 10, 46),
    ("KRAKEN_FUTURES.ws.1.0", 10, 7000),
]


def _read(name: str) -> tuple[DeltaReader, list]:
    reader = DeltaReader(None, recording(name))
    return reader, [delta for delta, _ in reader]


def _total(reader: DeltaReader, counter: str) -> int:
    return sum(sync.total(counter) for sync in reader.synchronizers.values())


@pytest.mark.parametrize(("name", "expected"), CHECKSUM_RECORDINGS)
def test_every_update_matches_the_venue_checksum(name: str, expected: int) -> None:
    reader, deltas = _read(name)

    verified = sum(sync.counters.checksums_verified for sync in reader.synchronizers.values())
    assert verified == expected
    assert _total(reader, "checksum_failures") == 0
    assert reader.counters.resync_requests == 0
    assert all(delta.checksum is not None for delta in deltas if not delta.is_snapshot)


@pytest.mark.parametrize(("name", "instruments", "minimum"), SEQUENCED_RECORDINGS)
def test_recording_has_no_sequence_errors_and_never_crosses(
    name: str, instruments: int, minimum: int
) -> None:
    reader, deltas = _read(name)

    book = ReferenceBook().apply_all(deltas)
    assert reader.counters.parse_errors == 0
    assert _total(reader, "gaps") == 0
    assert reader.counters.resync_requests == 0
    assert len({delta.instrument for delta in deltas}) == instruments
    assert len(deltas) >= minimum
    assert book.crossed == 0


@pytest.mark.parametrize(("name", "_instruments", "_minimum"), SEQUENCED_RECORDINGS)
def test_published_deltas_chain_per_instrument(name: str, _instruments: int, _minimum: int) -> None:
    _, deltas = _read(name)

    last: dict[str, int | None] = {}
    for delta in deltas:
        if delta.is_snapshot:
            assert delta.prev_sequence is None
        elif last.get(delta.instrument) is not None and delta.sequence is not None:
            assert delta.prev_sequence == last[delta.instrument]
        last[delta.instrument] = delta.sequence


GAP_RECORDINGS = [name for name, _, _ in SEQUENCED_RECORDINGS if not name.startswith("COINBASE")]


@pytest.mark.parametrize("name", GAP_RECORDINGS)
def test_removed_message_is_detected_as_a_gap_and_resyncs(name: str) -> None:
    recorded = events(name)
    victim = _middle_book_delta(name, recorded)
    reader = DeltaReader(None, recording(name))

    list(reader.replay(event for index, event in enumerate(recorded) if index != victim))

    assert _total(reader, "gaps") == 1
    assert _total(reader, "resyncs") == 1
    assert reader.counters.resync_requests == 1


def test_coinbase_connection_gap_resyncs_every_book_on_the_connection() -> None:
    recorded = events("COINBASE.jsonl.zst")
    victim = _middle_book_delta("COINBASE.jsonl.zst", recorded)
    reader = DeltaReader(None, recording("COINBASE.jsonl.zst"))

    list(reader.replay(event for index, event in enumerate(recorded) if index != victim))

    (sync,) = reader.synchronizers.values()
    assert sync.counters.connection_gaps == 1
    assert reader.counters.resync_requests == 2  # BTC-USD and ETH-USD


def _middle_book_delta(name: str, recorded: list) -> int:
    """Index of a non-snapshot book frame halfway through whose instrument updates again later."""
    parser = get_venue(name.split(".")[0])
    candidates: list[tuple[int, str]] = []
    for index, event in enumerate(recorded):
        if event.kind != RECV:
            continue
        result = parser.parse(event.data, event.time_us)
        if len(result.updates) == 1 and not result.updates[0].delta.is_snapshot:
            candidates.append((index, result.updates[0].delta.venue_symbol))
    followed = [
        index
        for position, (index, symbol) in enumerate(candidates)
        if any(later == symbol for _, later in candidates[position + 1 :])
    ]
    return followed[len(followed) // 2]


@pytest.mark.parametrize("name", ["BINANCE.ws.1.0", "BINANCE_FUTURES.ws.1.0"])
def test_binance_rest_snapshot_is_bridged_and_matches_the_rebuilt_book(name: str) -> None:
    recorded = events(name)
    address = next(event.address for event in recorded if event.kind == CONNECT)
    synchronizer = BookSynchronizer(get_venue(name.split(".")[0], address))
    published = []
    for event in recorded:
        if event.kind == RECV:
            published += synchronizer.on_frame(event.data, event.time_us).deltas
        elif event.kind == "http" and (
            symbol := synchronizer.parser.snapshot_symbol(event.address)
        ):
            published += synchronizer.on_snapshot(event.data, symbol, event.time_us).deltas

    snapshots = [delta for delta in published if delta.is_snapshot]
    assert len(snapshots) == 4
    assert synchronizer.total("gaps") == 0
    assert synchronizer.total("stale_drops") > 0  # buffered deltas older than the snapshot
    for snapshot in snapshots:
        first = next(
            d for d in published if d.instrument == snapshot.instrument and not d.is_snapshot
        )
        assert first.prev_sequence == snapshot.sequence
        assert first.sequence is not None
        assert snapshot.sequence is not None
        assert first.sequence >= snapshot.sequence


def test_deltas_before_the_rest_snapshot_are_buffered_not_published() -> None:
    reader, deltas = _read("BINANCE.ws.1.0")

    first_per_instrument: dict[str, bool] = {}
    for delta in deltas:
        first_per_instrument.setdefault(delta.instrument, delta.is_snapshot)
    assert all(first_per_instrument.values())
    assert _total(reader, "buffer_overflows") == 0


def test_legacy_coinbase_pro_level2_parses_without_errors() -> None:
    reader, deltas = _read("COINBASE.ws.28.0")

    assert reader.counters.parse_errors == 0
    assert sum(delta.is_snapshot for delta in deltas) == 10
    assert len(deltas) == 10 + 9719


def test_symbols_are_normalised() -> None:
    expected = {
        "KRAKEN.ws.50.0": ("KRAKEN:XBT/CHF", "KRAKEN:BTC-CHF"),
        "OKX.ws.1.0": ("OKX:UNI-USD-SWAP", "OKX:UNI-USD-PERP"),
        "BINANCE_DELIVERY.ws.1.0": (
            "BINANCE_DELIVERY:BTCUSD_211231",
            "BINANCE_DELIVERY:BTC-USD-20211231",
        ),
        "BINANCE.ws.1.0": ("BINANCE:NKNUSDT", "BINANCE:NKN-USDT"),
        "BINANCE_FUTURES.ws.1.0": ("BINANCE_FUTURES:SUSHIUSDT", "BINANCE_FUTURES:SUSHI-USDT-PERP"),
        "DERIBIT.ws.1.0": ("DERIBIT:BTC-24SEP21-8000-P", "DERIBIT:BTC-USD-20210924-8000-P"),
        "KRAKEN_FUTURES.ws.1.0": (
            "KRAKEN_FUTURES:FI_XBTUSD_210924",
            "KRAKEN_FUTURES:BTC-USD-20210924",
        ),
    }
    for name, (venue_instrument, normalised) in expected.items():
        _, deltas = _read(name)
        names = {f"{d.exchange}:{d.venue_symbol}": d.instrument for d in deltas}
        assert names[venue_instrument] == normalised


def test_bybit_spot_and_linear_books_are_different_instruments() -> None:
    _, deltas = _read("BYBIT.jsonl.zst")

    assert {"BYBIT:BTC-USDT", "BYBIT:BTC-USDT-PERP"} <= {d.instrument for d in deltas}


def test_times_are_microseconds_from_venue_and_recording() -> None:
    for name in ("KRAKEN.ws.50.0", "BYBIT.jsonl.zst", "COINBASE.jsonl.zst", "DERIBIT.ws.1.0"):
        _, deltas = _read(name)
        for delta in deltas:
            assert 10**15 < delta.event_time < 10**17
            assert abs(delta.receive_time - delta.event_time) < 120 * 10**6
