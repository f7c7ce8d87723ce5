from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from streams.core.pipeline import Pipeline
from streams.sources.tardis import TardisFormatError, read_tardis, write_tardis
from tests.core.helpers import delta

pytestmark = pytest.mark.unit

HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
ROWS = (
    "bybit,BTCUSDT,1000,1100,true,bid,100.5,1\n"
    "bybit,BTCUSDT,1000,1100,true,ask,101,2\n"
    "bybit,BTCUSDT,2000,2100,false,bid,100.5,0\n"
    "bybit,BTCUSDT,2000,2100,false,bid,100,3\n"
    "bybit,BTCUSDT,3000,3100,true,bid,99,1\n"
    "bybit,BTCUSDT,3000,3100,true,ask,100,1\n"
    "bybit,BTCUSDT,4000,4100,true,ask,100.5,1\n"
)


def write(tmp_path: Path, text: str, name: str = "book.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["book.csv", "book.csv.gz"])
def test_rows_group_into_events_and_snapshots_reset(tmp_path: Path, name: str) -> None:
    items = list(read_tardis(write(tmp_path, HEADER + ROWS, name)))
    deltas = [d for d, _ in items]
    assert [p.offset for _, p in items] == [0, 1, 2, 3]
    assert [d.is_snapshot for d in deltas] == [True, False, True, False]  # 4th continues the 3rd
    assert deltas[1].bid_prices == (100.5, 100.0)
    assert deltas[1].bid_sizes == (0.0, 3.0)
    assert (deltas[0].event_time, deltas[0].receive_time) == (1000, 1100)
    assert deltas[0].instrument == "BYBIT:BTCUSDT"
    pipeline = Pipeline()
    records = [pipeline.process(d, p) for d, p in items]
    assert records[0].imbalance["best_bid"] == 100.5


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("bybit,BTCUSDT,5000,5100,maybe,bid,1,1", "is_snapshot"),
        ("bybit,BTCUSDT,5000,5100,false,buy,1,1", "side"),
        ("bybit,BTCUSDT,5000,5100,false,bid,abc,1", "not a number"),
        ("bybit,BTCUSDT,5000,5100,false,bid,-1,1", "price must be > 0"),
        ("bybit,BTCUSDT,later,5100,false,bid,1,1", "integer microseconds"),
        ("bybit,BTCUSDT,5000,5100,false,bid,1", "columns"),
    ],
)
def test_a_malformed_row_stops_with_its_line_number(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path, HEADER + ROWS + row + "\n")
    with pytest.raises(TardisFormatError, match=rf":9: .*{message}"):
        list(read_tardis(path))


def test_a_wrong_header_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TardisFormatError, match=":1: header"):
        list(read_tardis(write(tmp_path, "a,b,c\n")))


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    original = [
        delta([(100.1, 0.3)], [(100.2, 1e-05)], t=10, snapshot=True),
        delta([(100.1, 0.0)], [], t=20),
    ]
    buffer = io.StringIO()
    assert write_tardis(original, buffer) == 3
    again = [d for d, _ in read_tardis(write(tmp_path, buffer.getvalue()))]
    assert [(d.bid_prices, d.bid_sizes, d.ask_prices, d.ask_sizes) for d in again] == [
        (d.bid_prices, d.bid_sizes, d.ask_prices, d.ask_sizes) for d in original
    ]
