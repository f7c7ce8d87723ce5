"""Bitstamp diffs against its recording: REST snapshots first, diffs they already hold dropped."""

from __future__ import annotations

import json

import pytest

from streams.sources.raw import DeltaReader
from streams.sources.recording import HTTP, RECV, read_recording
from streams.venues.exceptions import ParseError
from streams.venues.instruments import parse_instruments
from streams.venues.registry import get_venue
from tests.connectors.helpers import ReferenceBook, events, recording, rejections

pytestmark = pytest.mark.unit

NAME = "BITSTAMP.ws.1.0"


def test_recording_rejects_only_the_diffs_its_snapshots_already_hold() -> None:
    counts = rejections(NAME)

    # 102 diffs stamped at or before their pair's REST snapshot microtimestamp
    assert counts.pop("stale_drops") == 102
    assert set(counts.values()) == {0}, counts


def test_diffs_up_to_each_snapshot_agree_with_it() -> None:
    """A diff the snapshot already holds must read the same size there on every level it sets."""
    snapshots: dict[str, tuple[int, dict[tuple[str, float], float]]] = {}
    compared = 0
    for event in events(NAME):
        if event.kind == HTTP and "order_book/" in event.address:
            data = json.loads(event.data)
            levels = {
                (side, float(p)): float(s) for side in ("bids", "asks") for p, s in data[side]
            }
            snapshots[event.address.rsplit("/", 1)[1]] = (int(data["microtimestamp"]), levels)
        elif event.kind == RECV and "diff_order_book_" in str(event.data):
            message = json.loads(event.data)
            if message["event"] != "data":
                continue
            symbol = message["channel"].removeprefix("diff_order_book_")
            stamp, levels = snapshots[symbol]
            data = message["data"]
            if int(data["microtimestamp"]) > stamp:
                continue
            for side in ("bids", "asks"):
                for price, size in data[side]:
                    later = _later_change(symbol, side, float(price), int(data["microtimestamp"]))
                    if not later:
                        assert levels.get((side, float(price)), 0.0) == float(size)
                        compared += 1
    assert len(snapshots) == 10
    assert compared > 0


def _later_change(symbol: str, side: str, price: float, stamp: int) -> bool:
    """True when a later stale diff of the same level overrides this one."""
    for event in _stale_diffs(symbol):
        data = event["data"]
        if int(data["microtimestamp"]) > stamp and any(float(p) == price for p, _ in data[side]):
            return True
    return False


_CACHE: dict[str, list[dict]] = {}


def _stale_diffs(symbol: str) -> list[dict]:
    if not _CACHE:
        stamps = {}
        for event in events(NAME):
            if event.kind == HTTP and "order_book/" in event.address:
                stamps[event.address.rsplit("/", 1)[1]] = int(
                    json.loads(event.data)["microtimestamp"]
                )
            elif event.kind == RECV and '"event":"data"' in str(event.data):
                message = json.loads(event.data)
                name = message["channel"].removeprefix("diff_order_book_")
                if int(message["data"]["microtimestamp"]) <= stamps.get(name, 0):
                    _CACHE.setdefault(name, []).append(message)
    return _CACHE.get(symbol, [])


def test_published_book_starts_from_rest_and_never_crosses() -> None:
    reader = DeltaReader(None, recording(NAME))
    deltas = [delta for delta, _ in reader]

    assert reader.counters.snapshots_applied == 10
    assert sum(delta.is_snapshot for delta in deltas) == 10
    assert ReferenceBook().apply_all(deltas).crossed == 0
    first: dict[str, bool] = {}
    for delta in deltas:
        first.setdefault(delta.instrument, delta.is_snapshot)
    assert all(first.values())
    assert {"BITSTAMP:ETH-USD", "BITSTAMP:USDT-USD", "BITSTAMP:USDT-EUR"} <= set(first)


def test_snapshot_url_and_errors() -> None:
    parser = get_venue("BITSTAMP")
    url = parser.snapshot_url("ethusd")

    assert url == "https://www.bitstamp.net/api/v2/order_book/ethusd"
    assert parser.snapshot_symbol(url) == "ethusd"
    assert parser.snapshot_symbol("https://www.bitstamp.net/api/v2/trading-pairs-info/") is None
    with pytest.raises(ParseError, match="BITSTAMP snapshot"):
        parser.parse_snapshot('{"code":"404"}', "ethusd", 1)
    (message,) = parser.subscribe_messages(["ethusd"])
    assert json.loads(message) == {
        "event": "bts:subscribe", "data": {"channel": "diff_order_book_ethusd"}
    }  # fmt: skip


def test_contract_specs_from_the_recorded_pair_list() -> None:
    entries = {
        entry.instrument: entry.spec
        for event in read_recording(recording("BITSTAMP.0"))
        if event.kind == HTTP
        for entry in parse_instruments("BITSTAMP", event.address, event.data)
    }

    usdt = entries["BITSTAMP:USDT-USD"]
    assert (usdt.kind, usdt.base, usdt.quote, usdt.tick_size) == ("spot", "USDT", "USD", 1e-05)
    assert entries["BITSTAMP:ETH-USD"].tick_size == 0.01
