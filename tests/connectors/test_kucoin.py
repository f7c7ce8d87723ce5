"""KuCoin level2 against its recording: the REST snapshots, the bridge and the sequence chain."""

from __future__ import annotations

import json

import pytest

from streams.sources.raw import DeltaReader
from streams.sources.recording import HTTP, RECV
from streams.venues.exceptions import ParseError
from streams.venues.instruments import parse_instruments
from streams.venues.kucoin import bullet_websocket_url
from streams.venues.registry import get_venue
from tests.connectors.helpers import ReferenceBook, events, recording, rejections

pytestmark = pytest.mark.unit

NAME = "KUCOIN.ws.1.0"
Level = tuple[str, float]


def test_recording_rejects_only_the_updates_its_snapshots_already_hold() -> None:
    counts = rejections(NAME)

    # 48 updates arrived before their symbol's REST snapshot, numbered at or below its sequence
    assert counts.pop("stale_drops") == 48
    assert set(counts.values()) == {0}


def _snapshots_and_updates() -> tuple[dict[str, tuple[int, dict[Level, float]]], list[dict]]:
    snapshots: dict[str, tuple[int, dict[Level, float]]] = {}
    updates: list[dict] = []
    for event in events(NAME):
        if event.kind == HTTP and "orderbook/level2" in event.address:
            data = json.loads(event.data)["data"]
            levels = {
                (side, float(p)): float(s) for side in ("bids", "asks") for p, s in data[side]
            }
            snapshots[event.address.split("symbol=")[1]] = (int(data["sequence"]), levels)
        elif event.kind == RECV and "trade.l2update" in str(event.data):
            updates.append(json.loads(event.data)["data"])
    return snapshots, updates


def _touched(updates: list[dict], symbol: str, sequence: int) -> dict[Level, float]:
    """Each level's last size among the symbol's changes numbered up to `sequence`."""
    touched: dict[Level, float] = {}
    for update in (u for u in updates if u["symbol"] == symbol):
        for side in ("bids", "asks"):
            for price, size, number in update["changes"][side]:
                if int(number) <= sequence and float(price) != 0.0:
                    touched[(side, float(price))] = float(size)
    return touched


def test_updates_up_to_each_snapshot_agree_with_it() -> None:
    """The book the early updates build equals the REST snapshot on every level they touch."""
    snapshots, updates = _snapshots_and_updates()

    compared = 0
    for symbol, (sequence, levels) in snapshots.items():
        for level, size in _touched(updates, symbol, sequence).items():
            assert levels.get(level, 0.0) == size, (symbol, level)
            compared += 1
    assert len(snapshots) == 9
    assert compared == 24


def test_published_book_chains_and_never_crosses() -> None:
    reader = DeltaReader(None, recording(NAME))
    deltas = [delta for delta, _ in reader]

    book = ReferenceBook().apply_all(deltas)
    assert reader.counters.snapshots_applied == 9
    assert sum(delta.is_snapshot for delta in deltas) == 9
    assert len(deltas) == 9 + 3853 - 48
    assert book.crossed == 0
    last: dict[str, int] = {}
    for delta in deltas:
        if not delta.is_snapshot:
            assert delta.prev_sequence == last[delta.instrument]
        last[delta.instrument] = delta.sequence


def test_a_missing_update_resyncs_that_symbol_from_rest() -> None:
    recorded = events(NAME)
    index = next(
        i for i, e in enumerate(recorded) if e.kind == RECV and "EQZ-BTC" in str(e.data)
        and "l2update" in str(e.data) and i > 4000
    )  # fmt: skip
    reader = DeltaReader("KUCOIN", recording(NAME))

    list(reader.replay(recorded[:index] + recorded[index + 1 :]))

    (synchronizer,) = reader.synchronizers.values()
    assert synchronizer.total("gaps") == 1
    assert synchronizer.instrument_counters()["KUCOIN:EQZ-BTC"].gaps == 1
    assert reader.counters.resync_requests == 1


def test_sequence_only_changes_carry_no_level() -> None:
    parser = get_venue("KUCOIN")
    frame = {
        "type": "message", "subject": "trade.l2update", "topic": "/market/level2:BTC-USDT",
        "data": {"sequenceStart": 7, "sequenceEnd": 8, "symbol": "BTC-USDT", "time": 1700000000000,
                 "changes": {"asks": [["0", "0", "7"]], "bids": [["30000.1", "2", "8"]]}},
    }  # fmt: skip

    (update,) = parser.parse(json.dumps(frame), 5).updates

    assert update.delta.ask_prices == ()
    assert update.delta.bid_prices == (30000.1,)
    assert (update.first_sequence, update.delta.sequence) == (7, 8)
    assert update.delta.event_time == 1700000000000000


def test_snapshot_errors_and_the_bullet_token() -> None:
    parser = get_venue("KUCOIN")
    url = parser.snapshot_url("BTC-USDT")
    bullet = {"code": "200000", "data": {"token": "T", "instanceServers": [
        {"endpoint": "wss://ws-api-spot.kucoin.com/", "pingInterval": 18000}]}}  # fmt: skip

    assert url is not None
    assert parser.snapshot_symbol(url) == "BTC-USDT"
    with pytest.raises(ParseError, match="code 400003"):
        parser.parse_snapshot('{"code":"400003","msg":"KC-API-KEY not exists"}', "BTC-USDT", 1)
    assert (
        bullet_websocket_url(json.dumps(bullet), "c1")
        == "wss://ws-api-spot.kucoin.com/?token=T&connectId=c1"
    )
    assert (
        json.loads(parser.subscribe_messages(["A-B", "C-D"])[0])["topic"]
        == "/market/level2:A-B,C-D"
    )


def test_contract_specs_from_the_recorded_symbol_list() -> None:
    ((url, body),) = [(e.address, e.data) for e in events("KUCOIN.0") if e.kind == HTTP]

    entries = {entry.instrument: entry for entry in parse_instruments("KUCOIN", url, body)}

    spec = entries["KUCOIN:BCHSV-USDT"].spec
    assert (spec.kind, spec.base, spec.quote, spec.contract_size) == ("spot", "BSV", "USDT", 1.0)
    assert spec.tick_size == 0.001
    assert entries["KUCOIN:BCHSV-USDT"].sources["tick_size"].endswith("priceIncrement")
