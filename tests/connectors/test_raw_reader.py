"""`read_raw`: one raw venue payload per line, and cryptofeed recordings, through the live code."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.sources.raw import DeltaReader, read_raw
from streams.sources.recording import RECV, read_recording
from tests.connectors.helpers import ReferenceBook, recording

pytestmark = pytest.mark.unit


def _payload_file(tmp_path: Path, name: str, connection: str | None = None) -> Path:
    """Write the received frames of one recording connection as a raw payload-per-line file."""
    lines = [
        event.data
        for event in read_recording(recording(name))
        if event.kind == RECV and (connection is None or event.connection == connection)
    ]
    path = tmp_path / f"{name}.raw"
    path.write_text("\n".join(str(line) for line in lines) + "\n", encoding="utf-8")
    return path


def test_bybit_payload_lines_give_the_same_deltas_as_the_recording(tmp_path: Path) -> None:
    path = _payload_file(tmp_path, "BYBIT.jsonl.zst", connection="BYBIT.ws.2")  # linear

    from_raw = list(read_raw("BYBIT", path))
    from_recording = [
        delta
        for delta, _ in read_raw(None, recording("BYBIT.jsonl.zst"))
        if delta.symbol.endswith("-PERP")
    ]

    assert [d.sequence for d, _ in from_raw] == [d.sequence for d in from_recording]
    assert [d.bid_prices for d, _ in from_raw] == [d.bid_prices for d in from_recording]
    assert [position.offset for _, position in from_raw] == list(range(len(from_raw)))
    assert {position.topic for _, position in from_raw} == {f"file:{path}"}
    assert all(delta.receive_time == delta.event_time for delta, _ in from_raw)
    assert ReferenceBook().apply_all(delta for delta, _ in from_raw).crossed == 0


def test_bybit_spot_endpoint_names_spot_instruments(tmp_path: Path) -> None:
    path = _payload_file(tmp_path, "BYBIT.jsonl.zst", connection="BYBIT.ws.3")

    deltas = [
        delta
        for delta, _ in read_raw("BYBIT", path, endpoint="wss://stream.bybit.com/v5/public/spot")
    ]

    assert {delta.symbol for delta in deltas} == {"BTC-USDT", "ETH-USDT"}


def test_kraken_payload_lines_verify_every_checksum(tmp_path: Path) -> None:
    reader = DeltaReader("KRAKEN", _payload_file(tmp_path, "KRAKEN.ws.50.0"))

    deltas = [delta for delta, _ in reader]

    (synchronizer,) = reader.synchronizers.values()
    assert synchronizer.counters.checksums_verified == 4269
    assert len(deltas) == 4279


def test_bad_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    good = (
        _payload_file(tmp_path, "BYBIT.jsonl.zst", connection="BYBIT.ws.2").read_text().splitlines()
    )
    nan_price = (
        '{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1,'
        '"data":{"s":"BTCUSDT","b":[["NaN","1"]],"a":[],"u":5}}'
    )
    bad = ["{not json", nan_price, "x" * 100]
    path = tmp_path / "mixed.raw"
    path.write_text("\n".join([good[0], *bad, *good[1:]]) + "\n", encoding="utf-8")
    reader = DeltaReader("BYBIT", path)

    deltas = [delta for delta, _ in reader]

    assert reader.counters.parse_errors == 3
    assert len(deltas) > 1000
    for delta in deltas:
        delta.validate()


def test_recording_path_is_detected_and_read(tmp_path: Path) -> None:
    deltas = list(read_raw("KRAKEN_FUTURES", recording("KRAKEN_FUTURES.ws.1.0")))

    assert len(deltas) == 7024
    assert deltas[0][1].topic.startswith("file:")
