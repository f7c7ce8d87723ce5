"""Every venue's live session against the fake exchange's faults, through the real broker.

Each venue's connector survives each fault its dialect can serve: a withheld update (a gap, or a
checksum mismatch where the venue sends one), a corrupted checksum, a dropped connection and a
silent one. Only the affected instrument resyncs (all of them when the connection went, or when
the gap is in a sequence shared by the whole connection, which cannot say whose update it was),
and the deltas read back from Kafka rebuild the venue's true book. A venue that neither numbers
nor checksums its book (Gemini; Bitstamp's time stamps only order it) cannot notice a withheld
update at all, so it is not offered one. Short slices of the recordings keep the set quick.

On snapshot-only venues (every push a whole top-N book) a withheld push is no gap: nothing could
notice it and nothing needs repair, because the next push of that instrument replaces the book
and the connector publishes the difference to what it last published. There the test asserts
no resync and, still, the venue's true book from Kafka.
"""

from __future__ import annotations

import pytest

from streams.config import Settings
from streams.core.sync import SequenceRule
from streams.fake_exchange.faults import Faults
from streams.venues.registry import get_venue
from tests.connectors.test_session import (
    VENUES,
    _assert_books_match_the_venue,
    _read_back,
    _run_replay,
    _snapshots,
)

pytestmark = pytest.mark.integration

SLICE = 400  # book frames per run: enough for every instrument's snapshot and some updates
FAULTS_AT = {"DERIBIT": 20, "HYPERLIQUID": 20}  # book frames before the fault (short recordings)
# BitMEX numbers nothing: a withheld row shows only when a later row names its level id, as the
# insert at book frame 161 is named later (a withheld size update is invisible).
FAULTS_AT["BITMEX"] = 161
# The silence test's watchdog. At 0.5 s a loaded machine (the fake exchange, the connector and
# the broker share two cores) paused longer than that between frames, so every new connection
# was closed as stale before its books arrived and the connector reconnected for good (seen on
# Binance, Bybit and BitMEX). Coinbase's 46,000-level BTC-USD snapshot takes longer still to
# build and read, and Bitstamp (no heartbeats) stays quiet while its ten REST snapshots load.
STALE_AFTER_S = {"COINBASE": 5.0, "BITSTAMP": 5.0}
DEFAULT_STALE_AFTER_S = 3.0  # 300 frame intervals of the test's feed


def _at(venue: str) -> int:
    return FAULTS_AT.get(venue, 150)


CHECKSUM_VENUES = {venue for venue, row in VENUES.items() if row[3] is not None}
SNAPSHOT_ONLY = {venue for venue in VENUES if get_venue(venue).capabilities.snapshots_only}
CONNECTION_SEQUENCE_VENUES = {v for v in VENUES if get_venue(v).capabilities.connection_sequence}
UNNUMBERED = (SequenceRule.NONE, SequenceRule.MONOTONIC)  # a lost update leaves no trace
LEVEL_ID_VENUES = {"BITMEX"}  # a lost row shows when a later row names a level id it never saw
GAP_VENUES = {
    venue
    for venue in VENUES
    if venue in CHECKSUM_VENUES | CONNECTION_SEQUENCE_VENUES | LEVEL_ID_VENUES | SNAPSHOT_ONLY
    or get_venue(venue).capabilities.sequence_rule not in UNNUMBERED
}


@pytest.mark.parametrize("venue", sorted(GAP_VENUES - CONNECTION_SEQUENCE_VENUES))
async def test_a_withheld_update_resyncs_only_its_instrument(
    kafka_settings: Settings, venue: str
) -> None:
    server, connector = await _run_replay(
        kafka_settings, venue, Faults(remove_at=_at(venue)), book_frames=SLICE
    )

    symbol = server.fired["remove"]
    counters = connector.counters
    deltas = _read_back(kafka_settings, counters.published)
    detected = counters.checksum_failures if venue in CHECKSUM_VENUES else counters.gaps
    resynced = 0 if venue in SNAPSHOT_ONLY else 1  # the next whole push heals it
    assert (detected, counters.resyncs) == (resynced, resynced)
    assert _snapshots(deltas, symbol) == 1 + resynced
    assert all(_snapshots(deltas, other) <= 1 for other in VENUES[venue][1] if other != symbol)
    _assert_books_match_the_venue(deltas, server)


@pytest.mark.parametrize("venue", sorted(CONNECTION_SEQUENCE_VENUES))
async def test_a_frame_lost_from_the_connection_sequence_resyncs_every_book_on_it(
    kafka_settings: Settings, venue: str
) -> None:
    server, connector = await _run_replay(
        kafka_settings, venue, Faults(remove_at=_at(venue)), book_frames=SLICE
    )

    counters = connector.counters
    deltas = _read_back(kafka_settings, counters.published)
    # every book synced by then (Bitfinex subscribes one symbol at a time) has a second snapshot
    resynced = [symbol for symbol in VENUES[venue][1] if _snapshots(deltas, symbol) == 2]
    assert (counters.connection_gaps, counters.gaps, counters.checksum_failures) == (1, 0, 0)
    assert (counters.resyncs, counters.reconnects) == (len(resynced), 0)
    assert server.fired["remove"] in resynced
    _assert_books_match_the_venue(deltas, server)


@pytest.mark.parametrize("venue", sorted(CHECKSUM_VENUES))
async def test_a_corrupt_checksum_resyncs_only_its_instrument(
    kafka_settings: Settings, venue: str
) -> None:
    server, connector = await _run_replay(
        kafka_settings,
        venue,
        Faults(corrupt_checksum_at=_at(venue)),
        book_frames=SLICE,
    )

    symbol = server.fired["corrupt"]
    deltas = _read_back(kafka_settings, connector.counters.published)
    assert (connector.counters.checksum_failures, connector.counters.resyncs) == (1, 1)
    assert _snapshots(deltas, symbol) == 2
    _assert_books_match_the_venue(deltas, server)


@pytest.mark.parametrize("venue", sorted(VENUES))
async def test_a_dropped_connection_reconnects_and_resyncs_its_books(
    kafka_settings: Settings, venue: str
) -> None:
    server, connector = await _run_replay(
        kafka_settings,
        venue,
        Faults(drop_at=_at(venue)),
        interval_s=0.005,
        book_frames=SLICE,
    )

    deltas = _read_back(kafka_settings, connector.counters.published)
    assert server.connections_opened == 2
    assert connector.counters.reconnects == 1
    # every book has a snapshot from after the drop (a book still syncing then has only that one)
    dropped_at = server.fired_at["drop"]
    resynced = {d.venue_symbol for d in deltas if d.is_snapshot and d.receive_time > dropped_at}
    assert resynced == set(VENUES[venue][1])
    _assert_books_match_the_venue(deltas, server)


@pytest.mark.parametrize("venue", sorted(VENUES))
async def test_a_silent_connection_trips_the_watchdog(kafka_settings: Settings, venue: str) -> None:
    server, connector = await _run_replay(
        kafka_settings, venue, Faults(silent_at=_at(venue)), interval_s=0.01,
        stale_after_s=STALE_AFTER_S.get(venue, DEFAULT_STALE_AFTER_S),
        until=lambda counters: counters.stale_connections >= 1,
        book_frames=SLICE,
    )  # fmt: skip

    deltas = _read_back(kafka_settings, connector.counters.published)
    assert connector.counters.stale_connections >= 1
    assert connector.counters.reconnects >= 1
    assert server.connections_opened >= 2
    _assert_books_match_the_venue(deltas, server)
