"""Avro in the Confluent wire format <-> core types: the only module that knows the bytes.

Encoding and decoding run on the compiled walk of `streams.avro` (the hot path of every consumer;
byte-identical to fastavro, which stays the fallback and does schema resolution) with the 5-byte
Confluent header (magic 0, big-endian schema id), so any Confluent
deserializer downstream reads our topics. Schema ids come from the Schema Registry client: a real
registry in deployments, `mock://` in tests. The project registers all its schemas up front in a
fixed order, which fails fast on an incompatible registry and, with the per-process `mock://`
registry, gives every process the same ids.
"""

from __future__ import annotations

import contextlib
import json
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro.read import SchemaResolutionError

from streams import avro
from streams.config import Settings, Topics
from streams.core.types import BookDelta, ContractSpec
from streams.exceptions import StreamsError

__all__ = [
    "SCHEMA_FILES",
    "CodecError",
    "RecordCodec",
    "TopicCodecs",
    "delta_from_record",
    "delta_to_record",
    "load_schema",
    "schema_directory",
]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")

SCHEMA_FILES = {
    "book_delta": "book_delta.avsc",
    "imbalance": "imbalance.avsc",
    "suggestion": "circuit_breaker_suggestion.avsc",
}


class CodecError(StreamsError, ValueError):
    """Bytes that are not a valid record of the expected schema."""


def schema_directory() -> Path:
    """Find `schemas/`: beside the package in a checkout, or installed under share/."""
    candidates = [
        Path(__file__).resolve().parents[1] / "schemas",
        Path(sys.prefix) / "share" / "streams" / "schemas",
    ]
    for candidate in candidates:
        if (candidate / SCHEMA_FILES["book_delta"]).is_file():
            return candidate
    raise CodecError(f"Avro schemas not found in {', '.join(map(str, candidates))}")


def load_schema(name: str) -> dict[str, Any]:
    """Return the parsed JSON of one of the project's `.avsc` contracts."""
    path = schema_directory() / SCHEMA_FILES[name]
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _without_logical_types(node: Any) -> Any:
    """Drop logicalType annotations: the bytes are the same, and ints decode 10x faster."""
    if isinstance(node, dict):
        return {k: _without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(item) for item in node]
    return node


class RecordCodec:
    """Encode and decode one topic's values (dicts) in the Confluent wire format."""

    def __init__(
        self,
        schema: dict[str, Any],
        schema_id: int,
        writer_schema_lookup: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        self.schema_id = schema_id
        self.name: str = schema["name"]
        self._parsed = fastavro.parse_schema(_without_logical_types(schema))
        self._header = _HEADER.pack(MAGIC_BYTE, schema_id)
        self._lookup = writer_schema_lookup
        self._writers: dict[int, Any] = {schema_id: self._parsed}
        try:
            self._node: avro.Node | None = avro.compile_schema(schema)
        except avro.Unsupported:
            self._node = None

    def encode(self, record: dict[str, Any]) -> bytes:
        if self._node is not None:
            with contextlib.suppress(Exception):  # fastavro encodes it or says what is wrong
                return avro.encode(self._node, self._header, record)
        buffer = BytesIO()
        buffer.write(self._header)
        try:
            fastavro.schemaless_writer(buffer, self._parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise CodecError(f"record does not fit schema {self.name}: {error}") from error
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        if data is None or len(data) < _HEADER.size:
            raise CodecError("value shorter than the 5-byte Confluent header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC_BYTE:
            raise CodecError(f"unknown magic byte {magic} (not Confluent wire format)")
        writer = self._writer_schema(schema_id)
        if writer is self._parsed and self._node is not None:
            with contextlib.suppress(Exception):  # fastavro reads it or says what is wrong
                decoded: dict[str, Any] = avro.decode(self._node, data, _HEADER.size)
                return decoded
        try:
            if writer is self._parsed:
                record = fastavro.schemaless_reader(BytesIO(data[5:]), writer, None)
            else:
                record = fastavro.schemaless_reader(BytesIO(data[5:]), writer, self._parsed)
        except (
            EOFError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError,
            SchemaResolutionError,  # a corrupt schema id naming another topic's schema
        ) as error:  # fmt: skip
            raise CodecError(f"undecodable {self.name} body: {error}") from error
        if not isinstance(record, dict):
            raise CodecError(f"decoded {type(record).__name__}, expected a record")
        return record

    def decode_many(self, values: Iterable[bytes]) -> list[dict[str, Any]]:
        return [self.decode(value) for value in values]

    def _writer_schema(self, schema_id: int) -> Any:
        writer = self._writers.get(schema_id)
        if writer is None:
            if self._lookup is None:
                raise CodecError(f"schema id {schema_id} unknown to this codec")
            try:
                schema = self._lookup(schema_id)
            except Exception as error:
                raise CodecError(f"schema id {schema_id} not in the registry: {error}") from error
            writer = fastavro.parse_schema(_without_logical_types(schema))
            self._writers[schema_id] = writer
        return writer


def delta_to_record(delta: BookDelta) -> dict[str, Any]:
    return {
        "exchange": delta.exchange,
        "symbol": delta.symbol,
        "venue_symbol": delta.venue_symbol,
        "event_time": delta.event_time,
        "receive_time": delta.receive_time,
        "sequence": delta.sequence,
        "prev_sequence": delta.prev_sequence,
        "is_snapshot": delta.is_snapshot,
        "bid_prices": delta.bid_prices,
        "bid_sizes": delta.bid_sizes,
        "ask_prices": delta.ask_prices,
        "ask_sizes": delta.ask_sizes,
        "checksum": delta.checksum,
        **_spec_fields(delta.spec),
    }


_NO_SPEC = {
    "instrument_kind": None, "base_currency": None, "quote_currency": None,
    "settlement_currency": None, "contract_size": None, "tick_size": None,
}  # fmt: skip


def _spec_fields(spec: ContractSpec | None) -> dict[str, Any]:
    if spec is None:
        return _NO_SPEC
    return {
        "instrument_kind": spec.kind, "base_currency": spec.base, "quote_currency": spec.quote,
        "settlement_currency": spec.settlement, "contract_size": spec.contract_size,
        "tick_size": spec.tick_size,
    }  # fmt: skip


_SPECS: dict[tuple[Any, ...], ContractSpec] = {}


def _spec_from_record(record: dict[str, Any]) -> ContractSpec | None:
    """The spec a record carries, one shared object per distinct spec (not one per record)."""
    kind = record.get("instrument_kind")
    if kind is None:
        return None
    key = (
        kind, record.get("base_currency"), record.get("quote_currency"),
        record.get("settlement_currency"), record.get("contract_size"), record.get("tick_size"),
    )  # fmt: skip
    spec = _SPECS.get(key)
    if spec is None:
        try:
            spec = ContractSpec(
                kind=kind, base=key[1] or "", quote=key[2] or "", settlement=key[3] or "",
                contract_size=1.0 if key[4] is None else key[4], tick_size=key[5],
            )  # fmt: skip
        except ValueError as error:
            raise CodecError(f"book delta record has a bad contract spec: {error}") from error
        if len(_SPECS) < 100_000:  # made-up specs must not grow memory without bound
            _SPECS[key] = spec
    return spec


def delta_from_record(record: dict[str, Any]) -> BookDelta:
    return BookDelta(
        exchange=record["exchange"],
        symbol=record["symbol"],
        venue_symbol=record["venue_symbol"],
        event_time=record["event_time"],
        receive_time=record["receive_time"],
        is_snapshot=record["is_snapshot"],
        bid_prices=tuple(record["bid_prices"]),
        bid_sizes=tuple(record["bid_sizes"]),
        ask_prices=tuple(record["ask_prices"]),
        ask_sizes=tuple(record["ask_sizes"]),
        sequence=record["sequence"],
        prev_sequence=record["prev_sequence"],
        checksum=record["checksum"],
        spec=_spec_from_record(record),
    )


@dataclass(frozen=True, slots=True)
class TopicCodecs:
    """The codecs of every topic the product writes, with ids from one registry."""

    book_delta: RecordCodec
    imbalance: RecordCodec
    suggestion: RecordCodec
    registry: SchemaRegistryClient

    @classmethod
    def register(cls, settings: Settings, topics: Topics | None = None) -> TopicCodecs:
        """Register every schema under `<topic>-value` (TopicNameStrategy), in a fixed order."""
        registry = SchemaRegistryClient.new_client(settings.schema_registry_config())
        started = time.monotonic()
        try:
            return cls.with_registry(registry, topics or settings.topics)
        except CodecError as error:  # say where and how long: an unreachable registry is likely
            raise CodecError(
                f"{error} (schema registry {_without_credentials(settings.schema_registry_url)}, "
                f"after {time.monotonic() - started:.1f} s)"
            ) from error

    @classmethod
    def with_registry(cls, registry: SchemaRegistryClient, topics: Topics) -> TopicCodecs:
        def lookup(schema_id: int) -> dict[str, Any]:
            schema_str = registry.get_schema(schema_id).schema_str
            if schema_str is None:
                raise CodecError(f"schema id {schema_id} has no schema text")
            schema: dict[str, Any] = json.loads(schema_str)
            return schema

        def codec(name: str, topic: str) -> RecordCodec:
            schema = load_schema(name)
            try:
                schema_id = registry.register_schema(
                    f"{topic}-value", Schema(json.dumps(schema), schema_type="AVRO")
                )
            except Exception as error:
                raise CodecError(f"cannot register {name} for topic {topic}: {error}") from error
            return RecordCodec(schema, schema_id, lookup)

        return cls(
            book_delta=codec("book_delta", topics.book_deltas),
            imbalance=codec("imbalance", topics.imbalance),
            suggestion=codec("suggestion", topics.suggestions),
            registry=registry,
        )

    def encode_delta(self, delta: BookDelta) -> bytes:
        return self.book_delta.encode(delta_to_record(delta))

    def decode_keyed_delta(self, key: bytes | None, value: bytes | None) -> BookDelta:
        """Decode an input record; its key must be the delta's instrument id (the partitioning)."""
        delta = self.decode_delta(value or b"")
        if key is None or key.decode("utf-8", "replace") != delta.instrument:
            raise CodecError(f"record key {key!r} is not the instrument id {delta.instrument!r}")
        return delta

    def decode_delta(self, data: bytes) -> BookDelta:
        record = self.book_delta.decode(data)
        try:
            return delta_from_record(record).validate()
        except (KeyError, TypeError) as error:
            raise CodecError(f"book delta record is incomplete: {error}") from error


def _without_credentials(urls: str) -> str:
    """The registry URL(s) without any user:password: errors are shown and logged."""
    shown = []
    for url in urls.split(","):
        parts = urlsplit(url.strip())
        shown.append(parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl())
    return ",".join(shown)
