"""BitMEX orderBookL2 against its recording: level ids carry the book, a lost row resyncs."""

from __future__ import annotations

import json
import math

import pytest

from streams.sources.raw import DeltaReader
from streams.sources.recording import HTTP, RECV, read_recording
from streams.venues.bitmex import expiry_of
from streams.venues.instruments import parse_instruments
from streams.venues.registry import get_venue
from streams.venues.synchronizer import BookSynchronizer
from tests.connectors.helpers import ReferenceBook, events, recording, rejections

pytestmark = pytest.mark.unit

NAME = "BITMEX.ws.1.0"


def _metadata() -> list[dict]:
    (event,) = (e for e in read_recording(recording("BITMEX.0")) if e.kind == HTTP)
    items: list[dict] = json.loads(event.data)
    return items


def _book_messages() -> list[tuple[int, dict]]:
    """(event index, message) of every orderBookL2 frame of the recording."""
    return [
        (index, message)
        for index, event in enumerate(events(NAME))
        if event.kind == RECV and (message := json.loads(event.data)).get("table") == "orderBookL2"
    ]


def test_recording_has_no_rejection_and_never_crosses() -> None:
    counts = rejections(NAME)
    deltas = [delta for delta, _ in DeltaReader(None, recording(NAME))]
    actions = [message["action"] for _, message in _book_messages()]

    assert set(counts.values()) == {0}, counts
    assert len(deltas) == len(actions) == 10 + 445 + 1090 + 434  # the README's counts
    assert sum(delta.is_snapshot for delta in deltas) == actions.count("partial") == 10
    assert all(delta.sequence is None for delta in deltas)
    assert ReferenceBook().apply_all(deltas).crossed == 0


def test_update_and_delete_rows_take_the_price_their_id_was_inserted_at() -> None:
    parser = get_venue("BITMEX")
    prices: dict[tuple[str, int], float] = {}
    checked = 0
    for index, message in _book_messages():
        (update,) = parser.parse(json.dumps(message), index).updates
        delta = update.delta
        published = dict(zip(delta.bid_prices + delta.ask_prices, delta.bid_sizes + delta.ask_sizes,
                             strict=True))  # fmt: skip
        for row in message["data"]:
            key = (row["symbol"], row["id"])
            if "price" in row:
                prices[key] = row["price"]
            else:
                size = 0.0 if message["action"] == "delete" else float(row["size"])
                assert published[prices[key]] == size
                checked += 1
    assert checked >= 1090 + 434  # at least one row per update or delete frame


def test_ids_agree_with_the_documented_price_encoding() -> None:
    """price = (100000000 * symbolIdx - id) * tickSize; XBTUSD keeps its old 0.01 tick."""
    ticks = {item["symbol"]: item["tickSize"] for item in _metadata()} | {"XBTUSD": 0.01}
    rows = [row for _, message in _book_messages() for row in message["data"] if "price" in row]
    for row in rows:
        index = math.floor(row["id"] / 1e8) + 1
        assert math.isclose((index * 10**8 - row["id"]) * ticks[row["symbol"]], row["price"])
    assert len(rows) > 10_000


def _first_insert_updated_later() -> int:
    """Event index of the first insert whose level id a later row updates or deletes."""
    later: set[tuple[str, int]] = set()
    first = None
    for index, message in reversed(_book_messages()):
        keys = {(row["symbol"], row["id"]) for row in message["data"]}
        if message["action"] in ("update", "delete"):
            later |= keys
        elif message["action"] == "insert" and keys & later:
            first = index
    assert first is not None
    return first


def test_a_lost_insert_is_a_gap_that_resyncs_its_instrument_only() -> None:
    recorded = events(NAME)
    victim = _first_insert_updated_later()
    reader = DeltaReader(None, recording(NAME))

    deltas = list(reader.replay(e for index, e in enumerate(recorded) if index != victim))

    (sync,) = reader.synchronizers.values()
    assert (sync.total("gaps"), sync.total("resyncs")) == (1, 1)
    assert reader.counters.resync_requests == 1
    assert reader.counters.parse_errors == 0
    assert len(deltas) < 1979


def test_symbols_subscriptions_and_rows_before_the_partial() -> None:
    synchronizer = BookSynchronizer(get_venue("BITMEX"))
    parser = synchronizer.parser
    normalise = parser.normalise  # type: ignore[attr-defined]
    row = {"symbol": "XBTUSD", "id": 8799000000, "side": "Buy", "size": 5, "price": 10000.0}
    insert = json.dumps({"table": "orderBookL2", "action": "insert", "data": [row]})
    partial = json.dumps({"table": "orderBookL2", "action": "partial", "data": [row]})

    assert [normalise(s) for s in ("XBTUSD", "UNIUSDT", "XRPU21", "XBTZ21", "ETHUSDH22",
                                   "XBT_USDT")] == [
        "BTC-USD-PERP", "UNI-USDT-PERP", "XRP-BTC-20210924", "BTC-USD-20211231",
        "ETH-USD-20220325", "BTC-USDT",
    ]  # fmt: skip
    assert synchronizer.on_frame(insert, 1).deltas == []  # no partial yet on this connection
    assert synchronizer.on_frame(partial, 2).deltas[0].is_snapshot
    resync = synchronizer.on_frame(insert, 3)  # the id is already held: a row was lost
    assert (resync.deltas, synchronizer.total("gaps")) == ([], 1)
    unsubscribe, subscribe = (json.loads(m) for m in resync.resyncs[0].messages)
    assert (unsubscribe["op"], subscribe["op"]) == ("unsubscribe", "subscribe")
    assert subscribe["args"] == ["orderBookL2:XBTUSD"]
    assert synchronizer.on_frame(insert, 4).deltas == []  # waiting for the new partial
    assert synchronizer.on_frame(partial, 5).deltas[0].is_snapshot
    assert synchronizer.total("unsynced_drops") == 2


def test_futures_expire_on_the_last_friday_the_metadata_names() -> None:
    futures = [item for item in _metadata() if item["typ"] == "FFCCSX"]
    parser = get_venue("BITMEX")

    for item in futures:
        expiry = item["expiry"][:10].replace("-", "")
        assert parser.normalise(item["symbol"]).endswith(expiry)  # type: ignore[attr-defined]
    assert len(futures) >= 10
    assert expiry_of("H", "24") == "20240329"


def test_contract_specs_from_the_instrument_metadata() -> None:
    specs = {
        entry.instrument: entry.spec
        for event in read_recording(recording("BITMEX.0"))
        if event.kind == HTTP
        for entry in parse_instruments("BITMEX", event.address, event.data)
    }

    names = ("BTC-USD-PERP", "XRP-BTC-20210924", "BCH-USD-PERP")
    perpetual, future, quanto = (specs[f"BITMEX:{name}"] for name in names)
    assert (perpetual.kind, perpetual.contract_size, perpetual.settlement) == (
        "inverse", 1.0, "BTC",
    )  # fmt: skip
    assert (future.kind, future.contract_size, future.quote, future.tick_size) == (
        "linear", 1.0, "BTC", 1e-08,
    )  # fmt: skip
    assert (quanto.kind, quanto.contract_size, quanto.settlement) == ("linear", 100 / 3108, "BTC")


def test_an_empty_partial_syncs_its_symbol() -> None:
    synchronizer = BookSynchronizer(get_venue("BITMEX"))
    empty = {"table": "orderBookL2", "action": "partial", "filter": {"symbol": "XBTUSD"}}
    row = {"symbol": "XBTUSD", "id": 8799000000, "side": "Buy", "size": 5, "price": 10000.0}
    insert = {"table": "orderBookL2", "action": "insert", "data": [row]}

    (snapshot,) = synchronizer.on_frame(json.dumps({**empty, "data": []}), 1).deltas
    (delta,) = synchronizer.on_frame(json.dumps(insert), 2).deltas  # published: synced

    assert (snapshot.is_snapshot, len(snapshot.bid_prices), len(snapshot.ask_prices)) == (
        True,
        0,
        0,
    )
    assert (delta.is_snapshot, list(delta.bid_prices)) == (False, [10000.0])
    assert synchronizer.total("unsynced_drops") == 0
