"""Faust codecs write the Confluent wire format that confluent-kafka's own deserializer reads."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from faust.serializers import codecs

from streams.agents.codecs import register_faust_codecs
from streams.codec import TopicCodecs, delta_to_record
from streams.config import Settings
from tests.core.helpers import delta

pytestmark = pytest.mark.unit


def test_a_faust_codec_round_trips_and_speaks_the_confluent_wire_format() -> None:
    settings = Settings(schema_registry_url=f"mock://{uuid.uuid4().hex[:8]}")
    registry = SchemaRegistryClient.new_client({"url": settings.schema_registry_url})
    register_faust_codecs(settings, TopicCodecs.with_registry(registry, settings.topics))
    record = delta_to_record(delta([(100.5, 2.0)], [(101.0, 0.25)], snapshot=True, seq=7))
    codec = codecs.get_codec("streams-book-delta")
    wire = codec.dumps(record)
    assert wire[0] == 0
    assert int.from_bytes(wire[1:5], "big") >= 1
    assert codec.loads(wire) == {
        k: list(v) if isinstance(v, tuple) else v for k, v in record.items()
    }
    context = SerializationContext(settings.topics.book_deltas, MessageField.VALUE)
    decoded = AvroDeserializer(registry)(wire, context)
    assert decoded["bid_prices"] == [100.5]
    assert decoded["sequence"] == 7
