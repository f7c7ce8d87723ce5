"""The real local broker: start, round trip through the Schema Registry serde, clean stop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from streams.broker import LocalBroker, _pid_alive, free_ports
from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.types import BookDelta
from streams.transport import (
    DeliveryError,
    DeltaPublisher,
    KafkaOutputSink,
    TopicSpec,
    create_topics,
    read_topic,
    topic_specs,
)

pytestmark = pytest.mark.integration


def _deltas(count: int) -> list[BookDelta]:
    base = 1_700_000_000_000_000
    return [
        BookDelta(
            exchange="BYBIT",
            symbol=f"SYM{i % 3}-USDT",
            venue_symbol=f"SYM{i % 3}USDT",
            event_time=base + i * 1000,
            receive_time=base + i * 1000 + 500,
            is_snapshot=i < 3,
            bid_prices=(100.0 - i * 0.01,),
            bid_sizes=(float(i),),
            ask_prices=(100.5 + i * 0.01,),
            ask_sizes=(1.5,),
            sequence=i,
            prev_sequence=i - 1 if i else None,
        )
        for i in range(count)
    ]


def test_published_deltas_read_back_equal_with_keys_by_instrument(kafka_settings: Settings) -> None:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=3))
    codecs = TopicCodecs.register(kafka_settings)
    publisher = DeltaPublisher(kafka_settings, codecs)
    sent = _deltas(300)

    publisher.publish_many(sent)
    publisher.flush()
    messages = list(read_topic(kafka_settings, kafka_settings.topics.book_deltas))

    fresh = TopicCodecs.register(kafka_settings)  # a new consumer process would do the same
    received = [fresh.decode_delta(m.value()) for m in messages]
    assert sorted(received, key=lambda d: d.sequence or 0) == sent
    assert all(m.key() == fresh.decode_delta(m.value()).instrument.encode() for m in messages)
    by_instrument: dict[bytes, set[int]] = {}
    for message in messages:
        by_instrument.setdefault(message.key(), set()).add(message.partition())
    assert all(len(partitions) == 1 for partitions in by_instrument.values())
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") is None:  # the local broker of the test session
        # 2023 event times must not meet a 7-day time retention: the local broker stamps append
        # time, or its retention check would delete replayed recordings mid-test
        assert {m.timestamp()[0] for m in messages} == {TIMESTAMP_LOG_APPEND_TIME}


def test_confluent_deserializer_reads_records_from_the_topic(kafka_settings: Settings) -> None:
    codecs = TopicCodecs.register(kafka_settings)
    publisher = DeltaPublisher(kafka_settings, codecs)
    publisher.publish_many(_deltas(5))
    publisher.flush()

    deserializer = AvroDeserializer(codecs.registry)
    topic = kafka_settings.topics.book_deltas
    records = [
        deserializer(m.value(), SerializationContext(topic, MessageField.VALUE))
        for m in read_topic(kafka_settings, topic)
    ]

    assert sorted(r["sequence"] for r in records) == [0, 1, 2, 3, 4]


def test_output_sink_flush_raises_when_the_broker_rejects_a_record(
    kafka_settings: Settings,
) -> None:
    # Delivery reports come back for failures only; a rejected record must still fail the flush.
    topic = "sink-rejects"
    create_topics(kafka_settings, [TopicSpec(topic, 1, {"max.message.bytes": "2000"})])
    sink = KafkaOutputSink(
        kafka_settings, **{"compression.type": "none", "enable.idempotence": False}
    )
    sink.produce(topic, b"k", b"small")
    sink.flush()
    sink.produce(topic, b"k", b"x" * 10_000)  # above the topic's limit: the broker refuses it
    with pytest.raises(DeliveryError, match=topic):
        sink.flush(30)
    assert [m.value() for m in read_topic(kafka_settings, topic)] == [b"small"]


def test_topic_creation_is_idempotent(kafka_settings: Settings) -> None:
    specs = topic_specs(kafka_settings.topics)

    first = create_topics(kafka_settings, specs)
    second = create_topics(kafka_settings, specs)

    assert set(first.values()) == {"created"}
    assert set(second.values()) == {"exists"}


def test_cli_broker_start_status_stop_leaves_no_process(tmp_path: Path) -> None:
    home = Settings.from_environment().home
    env = {**os.environ, "STREAMS_HOME": str(home)}
    broker = LocalBroker(home, state_dir=tmp_path / "state")
    state = broker.start(heap_mb=256)
    assert broker.status() == state

    stopped = broker.stop()

    assert stopped
    assert broker.status() is None
    assert not _pid_alive(state.pid)
    cli = [sys.executable, "-m", "streams.cli"]
    status = subprocess.run([*cli, "broker", "status"], env=env, capture_output=True, text=True)
    assert status.returncode in (0, 1)


def test_unreachable_bootstrap_ends_with_one_clear_line() -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}

    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "topics", "create"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("streams: error:")
    assert "127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.unit
def test_the_ports_of_one_broker_are_all_different() -> None:
    # a broker whose listener and controller got the same port refuses to start
    for _ in range(50):
        ports = free_ports(2)
        assert len(set(ports)) == 2
