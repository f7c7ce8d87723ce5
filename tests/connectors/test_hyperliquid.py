"""Hyperliquid `l2Book` and the synchronizer's differencing of snapshot-only books."""

from __future__ import annotations

import json

import pytest

from streams.venues.registry import get_venue
from streams.venues.synchronizer import BookSynchronizer, difference
from tests.connectors.helpers import ReferenceBook
from tests.fixtures.hyperliquid import l2book_pushes, long_book_groups

pytestmark = pytest.mark.unit

PUSHES = 1500  # about 15 minutes of the hour


def _push(coin: str, time_ms: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> str:
    levels = [[{"px": p, "sz": s, "n": 1} for p, s in side] for side in (bids, asks)]
    return json.dumps(
        {"channel": "l2Book", "data": {"coin": coin, "time": time_ms, "levels": levels}}
    )


def test_difference_names_changed_new_and_departed_levels() -> None:
    previous = {100.0: 1.0, 99.0: 2.0, 98.0: 3.0}
    current = {100.0: 1.0, 99.0: 2.5, 97.5: 4.0}

    assert difference(previous, current) == ((99.0, 97.5, 98.0), (2.5, 4.0, 0.0))
    assert difference(current, current) == ((), ())
    assert difference({}, current) == ((100.0, 99.0, 97.5), (1.0, 2.5, 4.0))


def test_consecutive_pushes_become_a_snapshot_then_deltas() -> None:
    synchronizer = BookSynchronizer(get_venue("HYPERLIQUID"))
    first = _push("ETH", 1, [("100", "1"), ("99", "2")], [("101", "1")])
    second = _push("ETH", 2, [("100", "1"), ("98", "5")], [("101", "3")])

    outputs = [synchronizer.on_frame(frame, 10) for frame in (first, second, second)]

    (snapshot,) = outputs[0].deltas
    (delta,) = outputs[1].deltas
    assert snapshot.is_snapshot
    assert snapshot.symbol == "ETH-USDC-PERP"
    assert not delta.is_snapshot
    assert dict(zip(delta.bid_prices, delta.bid_sizes, strict=True)) == {98.0: 5.0, 99.0: 0.0}
    assert dict(zip(delta.ask_prices, delta.ask_sizes, strict=True)) == {101.0: 3.0}
    assert outputs[2].deltas == []  # the same book again: nothing to publish
    assert synchronizer.counters.unchanged_snapshots == 1


def test_after_a_resync_the_next_push_is_a_whole_snapshot() -> None:
    synchronizer = BookSynchronizer(get_venue("HYPERLIQUID"))
    synchronizer.on_frame(_push("BTC", 1, [("100", "1")], [("101", "1")]), 1)

    resync = synchronizer.resync_all("stale connection")
    after = synchronizer.on_frame(_push("BTC", 2, [("100", "2")], [("101", "1")]), 2)

    assert resync.resyncs[0].messages == tuple(synchronizer.parser.resubscribe_messages("BTC"))
    assert after.deltas[0].is_snapshot
    assert after.deltas[0].bid_sizes == (2.0,)


def test_differenced_pushes_equal_the_converted_long_book() -> None:
    """The archive's snapshots, pushed live-style, publish exactly the long book's rows."""
    synchronizer = BookSynchronizer(get_venue("HYPERLIQUID"))
    published = []
    for timestamp, frame in l2book_pushes(PUSHES):
        published.extend(synchronizer.on_frame(frame, timestamp).deltas)

    expected = list(long_book_groups(PUSHES))
    assert len(published) == len(expected) == PUSHES
    book = ReferenceBook()
    for delta, (timestamp, snapshot, rows) in zip(published, expected, strict=True):
        book.apply(delta)
        assert delta.event_time == timestamp // 1000 * 1000
        assert delta.is_snapshot == snapshot
        levels = {("bid", p, s) for p, s in zip(delta.bid_prices, delta.bid_sizes, strict=True)}
        levels |= {("ask", p, s) for p, s in zip(delta.ask_prices, delta.ask_sizes, strict=True)}
        assert levels == set(rows)
        assert len(book.bids[delta.instrument]) == len(book.asks[delta.instrument]) == 20
    assert book.crossed == 0
    assert synchronizer.counters.unchanged_snapshots == 0


def test_parser_ignores_other_channels_and_subscribes_per_coin() -> None:
    parser = get_venue("HYPERLIQUID")
    acknowledgement = {"channel": "subscriptionResponse", "data": {"method": "subscribe"}}

    assert parser.parse(json.dumps(acknowledgement), 1).updates == ()
    assert parser.parse(json.dumps({"channel": "pong"}), 1).updates == ()
    assert [json.loads(m)["subscription"] for m in parser.subscribe_messages(["BTC", "ETH"])] == [
        {"type": "l2Book", "coin": "BTC"},
        {"type": "l2Book", "coin": "ETH"},
    ]
    assert parser.normalise("PURR/USDC") == "PURR-USDC"
    assert parser.normalise("@107") == "@107"
