"""The contract-spec fields evolve the Avro contracts compatibly, both ways: a consumer still on the
previous schema reads the new records (Avro schema resolution skips fields it does not know), and
today's reader reads records written before (the new fields take their defaults)."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import pytest

from streams.codec import RecordCodec, delta_from_record, delta_to_record, load_schema
from streams.core.instruments import to_base_units
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, ContractSpec, SourcePosition

pytestmark = pytest.mark.unit

PREVIOUS = Path(__file__).parent / "fixtures" / "schemas_v1"
INVERSE = ContractSpec(
    kind="inverse", base="BTC", quote="USD", settlement="BTC", contract_size=100.0, tick_size=0.1
)


def _previous(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((PREVIOUS / f"{name}.avsc").read_text())
    return schema


def _write(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def _read(data: bytes, writer: dict[str, Any], reader: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = fastavro.schemaless_reader(
        BytesIO(data), fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    )
    return record


def _delta() -> BookDelta:
    raw = BookDelta(
        exchange="BINANCE_DELIVERY", symbol="BTC-USD-PERP", venue_symbol="BTCUSD_PERP",
        event_time=1_626_916_404_580_000, receive_time=1_626_916_404_600_000, is_snapshot=True,
        bid_prices=(32000.0, 31990.0), bid_sizes=(3.0, 0.0), ask_prices=(32010.0,),
        ask_sizes=(16.0,), sequence=7, prev_sequence=None,
    )  # fmt: skip
    return to_base_units(raw, INVERSE)


def _imbalance() -> dict[str, Any]:
    delta = _delta()
    output = Pipeline().process(delta, SourcePosition("book-deltas", 0, 0))
    assert output.imbalance is not None
    return dict(output.imbalance)


def test_a_consumer_with_the_previous_schema_reads_new_book_deltas() -> None:
    new = load_schema("book_delta")
    record = delta_to_record(_delta())
    old_view = _read(_write(new, record), new, _previous("book_delta"))
    assert set(old_view) == {f["name"] for f in _previous("book_delta")["fields"]}
    assert old_view["bid_sizes"] == list(record["bid_sizes"])  # base units, as documented


def test_a_consumer_with_the_previous_schema_reads_new_imbalance_records() -> None:
    new = load_schema("imbalance")
    record = _imbalance()
    assert (record["instrument_kind"], record["quote_currency"]) == ("inverse", "USD")
    old_view = _read(_write(new, record), new, _previous("imbalance"))
    times = ("event_time", "receive_time")  # a plain consumer decodes the logical type
    assert {k: v for k, v in old_view.items() if k not in times} == {
        k: v for k, v in record.items() if k in old_view and k not in times
    }
    assert old_view["event_time"].timestamp() * 1e6 == record["event_time"]
    assert "quote_currency" not in old_view
    # the notional is in USD: 3 contracts of 100 USD at the best bid
    assert old_view["depth_bid_25bps"] == pytest.approx(300.0, rel=1e-12)


def test_records_written_with_the_previous_schema_read_with_defaults() -> None:
    old = _previous("book_delta")
    record = {
        k: v
        for k, v in delta_to_record(_delta()).items()
        if k in {f["name"] for f in old["fields"]}
    }
    new_view = _read(_write(old, record), old, load_schema("book_delta"))
    assert new_view["instrument_kind"] is None
    assert new_view["contract_size"] is None
    assert delta_from_record(new_view).spec is None
    imbalance = {
        k: v
        for k, v in _imbalance().items()
        if k in {f["name"] for f in _previous("imbalance")["fields"]}
    }
    read = _read(
        _write(_previous("imbalance"), imbalance), _previous("imbalance"), load_schema("imbalance")
    )
    assert (read["instrument_kind"], read["base_currency"], read["quote_currency"]) == (None,) * 3


def test_the_spec_survives_the_codec_as_one_shared_object() -> None:
    codec = RecordCodec(load_schema("book_delta"), 1)
    decoded = [
        delta_from_record(codec.decode(codec.encode(delta_to_record(_delta())))) for _ in range(2)
    ]
    assert decoded[0] == _delta()
    assert decoded[0].spec == INVERSE
    assert decoded[0].spec is decoded[1].spec
