"""The Avro contracts parse, and records cross the Confluent wire format both ways."""

from __future__ import annotations

import json
import struct

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.codec import SCHEMA_FILES, CodecError, TopicCodecs, delta_to_record, load_schema
from streams.config import Topics
from streams.core.types import BookDelta

pytestmark = pytest.mark.unit


def _registry() -> SchemaRegistryClient:
    return SchemaRegistryClient.new_client({"url": "mock://codec-tests"})


def _codecs() -> TopicCodecs:
    return TopicCodecs.with_registry(_registry(), Topics())


def _delta(**overrides: object) -> BookDelta:
    values: dict[str, object] = {
        "exchange": "BINANCE",
        "symbol": "NKN-USDT",
        "venue_symbol": "NKNUSDT",
        "event_time": 1633998512320639,
        "receive_time": 1633998512420639,
        "is_snapshot": False,
        "bid_prices": (0.3521, 0.352),
        "bid_sizes": (672.0, 0.0),
        "ask_prices": (0.3522,),
        "ask_sizes": (10.5,),
        "sequence": 499869760,
        "prev_sequence": 499869752,
        "checksum": None,
    }
    values.update(overrides)
    return BookDelta(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_every_schema_parses_and_documents_every_field(name: str) -> None:
    schema = load_schema(name)

    fastavro.parse_schema(schema)

    assert schema["namespace"].startswith("streams.")
    assert "Version" in schema["doc"]
    assert all(field.get("doc") for field in schema["fields"])


def test_delta_round_trips_through_our_codec() -> None:
    codecs = _codecs()
    delta = _delta()

    data = codecs.encode_delta(delta)

    assert data[0] == 0
    assert struct.unpack(">I", data[1:5])[0] == codecs.book_delta.schema_id
    assert codecs.decode_delta(data) == delta


def test_confluent_deserializer_reads_what_we_write() -> None:
    codecs = _codecs()
    delta = _delta()

    record = AvroDeserializer(codecs.registry)(
        codecs.encode_delta(delta), SerializationContext("book-deltas", MessageField.VALUE)
    )

    assert record["bid_prices"] == list(delta.bid_prices)
    assert record["sequence"] == delta.sequence
    assert record["event_time"].timestamp() * 1e6 == pytest.approx(delta.event_time)


def test_we_read_what_the_confluent_serializer_writes() -> None:
    codecs = _codecs()
    serializer = AvroSerializer(
        codecs.registry,
        json.dumps(load_schema("book_delta")),
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    record = {
        "exchange": "KRAKEN", "symbol": "BTC-USD", "venue_symbol": "XBT/USD",
        "event_time": 1, "receive_time": 2, "sequence": None, "prev_sequence": None,
        "is_snapshot": True, "bid_prices": [1.0], "bid_sizes": [2.0],
        "ask_prices": [3.0], "ask_sizes": [4.0], "checksum": 123,
    }  # fmt: skip

    data = serializer(record, SerializationContext("book-deltas", MessageField.VALUE))

    assert codecs.decode_delta(data) == _delta(
        exchange="KRAKEN", symbol="BTC-USD", venue_symbol="XBT/USD", event_time=1,
        receive_time=2, sequence=None, prev_sequence=None, is_snapshot=True,
        bid_prices=(1.0,), bid_sizes=(2.0,), ask_prices=(3.0,), ask_sizes=(4.0,), checksum=123,
    )  # fmt: skip


@given(st.lists(st.decimals(min_value="0.00000001", max_value="1e9", places=8), max_size=50))
@settings(deadline=None)  # each example registers the schemas: no time limit on a loaded machine
def test_prices_parsed_from_venue_text_round_trip_exactly(prices: list[object]) -> None:
    codecs = _codecs()
    parsed = tuple(float(str(price)) for price in prices)
    delta = _delta(bid_prices=parsed, bid_sizes=tuple(1.0 for _ in parsed))

    decoded = codecs.decode_delta(codecs.encode_delta(delta))

    assert decoded.bid_prices == parsed  # bit-identical keys: no phantom levels


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter"),
        (b"\x01\x00\x00\x00\x01abc", "magic"),
        (b"\x00\x00\x00\x00\x01\xff\xff\xff", "undecodable"),
        (b"\x00\x00\x00\x27\x0f", "schema id"),
    ],
)
def test_malformed_bytes_raise_codec_error(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        _codecs().decode_delta(data)


def test_a_decoded_delta_with_a_negative_size_is_rejected() -> None:
    codecs = _codecs()
    data = codecs.book_delta.encode(delta_to_record(_delta(bid_sizes=(-1.0, 2.0))))

    with pytest.raises(ValueError, match="size"):
        codecs.decode_delta(data)
