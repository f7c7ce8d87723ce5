"""Test records built from the Avro contracts (every field filled), produced with the real codec."""

from __future__ import annotations

from typing import Any

from streams.codec import TopicCodecs, load_schema
from streams.config import Settings
from streams.sinks.tables import IMBALANCE, SUGGESTIONS, Table
from streams.transport import KafkaOutputSink

INSTRUMENTS = (("BINANCE", "BTC-USDT"), ("BINANCE", "ETH-USDT"), ("OKX", "BTC-USDT-SWAP"),
               ("KRAKEN", "XBT/USD"))  # fmt: skip
# 2021-10-12T23:59:00Z: records cross midnight, so files land in two date partitions
BASE_TIME_US = 1_634_083_140_000_000


def _value(avro_type: Any, index: int, name: str, named: dict[str, Any]) -> Any:
    if isinstance(avro_type, list):
        branches = [branch for branch in avro_type if branch != "null"]
        if len(branches) < len(avro_type) and index % 3 == 0:
            return None
        return _value(branches[0], index, name, named)
    if isinstance(avro_type, str):
        if avro_type in named:
            return _value(named[avro_type], index, name, named)
        return {
            "string": f"{name}-{index}",
            "int": index % 1000 + 1,
            "long": 1_000_000 + index,
            "double": index * 0.25 + 0.125,
            "boolean": index % 2 == 0,
        }[avro_type]
    kind = avro_type["type"]
    if kind in ("enum", "record"):
        named[avro_type["name"]] = avro_type
    if kind == "enum":
        return avro_type["symbols"][index % len(avro_type["symbols"])]
    if kind == "array":
        return [_value(avro_type["items"], index + k, name, named) for k in range(1, 3)]
    if kind == "map":
        return {f"{name}_{k}": _value(avro_type["values"], index + k, name, named) for k in (1, 2)}
    if kind == "record":
        return {f["name"]: _value(f["type"], index, f["name"], named) for f in avro_type["fields"]}
    return _value(kind, index, name, named)


def make_record(table: Table, index: int, prefix: str = "r") -> dict[str, Any]:
    """A complete record of the table's schema; ids, instruments and times vary with `index`."""
    record = _value(load_schema(table.schema_name), index, table.name, {})
    exchange, symbol = INSTRUMENTS[index % len(INSTRUMENTS)]
    record.update(
        exchange=exchange, symbol=symbol, event_time=BASE_TIME_US + index * 7_000_001,
        source_offset=index,
    )  # fmt: skip
    record[table.id_field] = f"{prefix}-{table.name}-{index}"
    return record


def produce(
    settings: Settings, table: Table, records: list[dict[str, Any]], codecs: TopicCodecs
) -> None:
    """Produce records to the table's topic, keyed by instrument, through the real codec."""
    topic = settings.topics.imbalance if table is IMBALANCE else settings.topics.suggestions
    codec = codecs.imbalance if table is IMBALANCE else codecs.suggestion
    sink = KafkaOutputSink(settings)
    for record in records:
        key = f"{record['exchange']}:{record['symbol']}".encode()
        sink.produce(topic, key, codec.encode(record))
    sink.flush()


def produce_raw(settings: Settings, topic: str, values: list[bytes]) -> None:
    sink = KafkaOutputSink(settings)
    for value in values:
        sink.produce(topic, b"BINANCE:BTC-USDT", value)
    sink.flush()


def make_records(table: Table, start: int, stop: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [make_record(table, index, prefix) for index in range(start, stop)]


__all__ = ["IMBALANCE", "SUGGESTIONS", "make_record", "make_records", "produce", "produce_raw"]
