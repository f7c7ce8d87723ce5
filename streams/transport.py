"""Kafka clients configured the one way the product uses them (confluent-kafka / librdkafka).

Producers are idempotent, lz4-compressed and batch; delivery errors are collected and raised, never
dropped. Topic creation is idempotent and sets each topic's cleanup policy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from streams import dead_letters
from streams.codec import TopicCodecs
from streams.config import ConfigurationError, Settings, Topics
from streams.core.types import BookDelta
from streams.exceptions import StreamsError

__all__ = [
    "BrokerUnreachableError",
    "BrokerWatch",
    "DeliveryError",
    "DeltaPublisher",
    "KafkaOutputSink",
    "TopicSpec",
    "create_topics",
    "ensure_reachable",
    "make_consumer",
    "make_producer",
    "partition_count",
    "read_partition_range",
    "read_topic",
    "topic_specs",
]

log = logging.getLogger(__name__)
_client_log = logging.getLogger("streams.librdkafka")  # librdkafka logs join ours, not raw stderr


class DeliveryError(StreamsError):
    """The broker did not accept one or more records."""


class BrokerUnreachableError(StreamsError):
    """No broker of the configured cluster answered in time."""


def ensure_reachable(settings: Settings) -> None:
    """Fail in one line, with the address tried and the time waited, when no broker answers.

    Commands call it before creating their clients, whose retries would otherwise log a line per
    attempt for as long as they run.
    """
    for name, location in (
        ("KAFKA_SSL_CA_LOCATION", settings.ssl_ca_location),
        ("KAFKA_SSL_CERTIFICATE_LOCATION", settings.ssl_certificate_location),
        ("KAFKA_SSL_KEY_LOCATION", settings.ssl_key_location),
    ):
        if location and not Path(location).is_file():
            raise ConfigurationError(f"{name}={location}: no such file")
    # Admin failures come back as exceptions; its log lines would only repeat them.
    admin = AdminClient({**settings.kafka_client_config(), "log_level": 0})
    started = time.monotonic()
    try:
        admin.list_topics(timeout=settings.connect_timeout_s)
    except KafkaException as error:
        reason = error.args[0].str() if isinstance(error.args[0], KafkaError) else str(error)
        raise BrokerUnreachableError(
            f"Kafka at {settings.bootstrap_servers} unreachable after "
            f"{time.monotonic() - started:.1f} s: {reason}"
        ) from error


def make_producer(settings: Settings, **overrides: Any) -> Producer:
    config: dict[str, Any] = {
        **settings.kafka_client_config(),
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        # Java's partitioner: keys land where Kafka Streams, aiokafka and Faust tables expect them.
        "partitioner": "murmur2_random",
        "linger.ms": 20,
        "batch.size": 512 * 1024,
        "queue.buffering.max.messages": 500_000,
        "logger": _client_log,
        **overrides,
    }
    return Producer(config)


def make_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    config: dict[str, Any] = {
        **settings.kafka_client_config(),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "logger": _client_log,
        **overrides,
    }
    return Consumer(config)


class DeltaPublisher:
    """Publish book deltas keyed by instrument id, timestamped by event time; errors surface.

    A delta whose record exceeds the producer's message size limit (`message.max.bytes`, 1 MB,
    below the broker's default `max.message.bytes`) can never be delivered: it goes to the
    dead-letter topic (its key, no value, a `reason` header with its size) and publishing goes
    on; `oversized` counts them. A broker whose limit is lower refuses whole batches, good
    deltas with the bad: that stays a `DeliveryError` (docs/reliability.md).
    """

    def __init__(self, settings: Settings, codecs: TopicCodecs, topic: str | None = None) -> None:
        self.topic = topic or settings.topics.book_deltas
        self._dead_letter_topic = settings.topics.dead_letter
        self._codecs = codecs
        self._out = KafkaOutputSink(settings)
        self.oversized = 0

    def publish(self, delta: BookDelta) -> None:
        value = self._codecs.encode_delta(delta)
        key = delta.instrument.encode()
        try:
            self._out.produce(self.topic, key, value, timestamp_ms=delta.event_time // 1000)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                raise
            self._dead_letter_oversized(key, len(value))
        self._out.serve_deliveries()
        self._out.raise_errors()

    def _dead_letter_oversized(self, key: bytes, size: int) -> None:
        self.oversized += 1
        reason = f"MSG_SIZE_TOO_LARGE: a book delta record of {size} bytes exceeds the limit"
        log.warning("%s: %s; dead-lettered without its value", key.decode(errors="replace"),
                    reason)  # fmt: skip
        headers = dead_letters.headers(reason, topic=self.topic)
        self._out.produce(self._dead_letter_topic, key, b"", headers)

    def publish_many(self, deltas: Iterable[BookDelta]) -> int:
        count = 0
        for delta in deltas:
            self.publish(delta)
            count += 1
        return count

    def flush(self, timeout_s: float = 30.0) -> None:
        self._out.flush(timeout_s)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic's partitions and broker-side settings."""

    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(topics: Topics, partitions: int = 4) -> list[TopicSpec]:
    """Deltas and outputs are time-retained; the dead-letter topic keeps records longer."""
    week_ms = str(7 * 24 * 3600 * 1000)
    month_ms = str(30 * 24 * 3600 * 1000)
    timed = {"cleanup.policy": "delete", "retention.ms": week_ms, "compression.type": "producer"}
    return [
        TopicSpec(topics.book_deltas, partitions, timed),
        TopicSpec(topics.imbalance, partitions, timed),
        TopicSpec(topics.suggestions, partitions, {**timed, "retention.ms": month_ms}),
        TopicSpec(topics.dead_letter, 1, {**timed, "retention.ms": month_ms}),
    ]


def create_topics(
    settings: Settings, specs: list[TopicSpec], replication_factor: int = 1
) -> dict[str, str]:
    """Create missing topics; existing ones are left alone. Returns name -> 'created'|'exists'."""
    ensure_reachable(settings)
    admin = AdminClient({**settings.kafka_client_config(), "log_level": 0})
    new = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=replication_factor,
                 config=s.config)
        for s in specs
    ]  # fmt: skip
    outcome: dict[str, str] = {}
    for name, future in admin.create_topics(new, request_timeout=30).items():
        try:
            future.result()
            outcome[name] = "created"
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StreamsError(f"cannot create topic {name}: {error.args[0].str()}") from error
            outcome[name] = "exists"
    return outcome


def read_topic(settings: Settings, topic: str, *, timeout_s: float = 60.0) -> Iterator[Message]:
    """Yield every record of a topic up to the end offsets it had when called (tests, audits).

    Partitions are assigned directly (no consumer group), so nothing waits for a coordinator and
    the read ends exactly at the high watermarks rather than after a guessed idle time.
    """
    consumer = make_consumer(settings, "streams-reader")
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if metadata.error is not None:
            raise StreamsError(f"topic {topic}: {metadata.error.str()}")
        ends: dict[int, int] = {}
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s
            )
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(ends)])
        deadline = time.monotonic() + timeout_s
        while ends:
            if time.monotonic() > deadline:
                raise StreamsError(f"reading {topic}: timed out with {ends} still to read")
            for message in consumer.consume(num_messages=1000, timeout=0.5):
                error = message.error()
                if error is not None:
                    raise StreamsError(f"reading {topic}: {error.str()}")
                yield message
                partition, offset = message.partition(), message.offset()
                if partition in ends and offset is not None and offset + 1 >= ends[partition]:
                    del ends[partition]
    finally:
        consumer.close()


def resume_offset(
    settings: Settings, group: str, topic: str, partition: int, timeout_s: float = 300.0
) -> int:
    """Where a consumer group resumes a partition: its committed offset, else the low watermark.

    Reads the group's committed offset without joining the group (an OffsetFetch request). A
    slow broker is retried until `timeout_s`: the caller (a worker restoring a partition) has
    nothing better to do than wait, and failing costs a restart.
    """
    consumer = make_consumer(settings, group)
    deadline = time.monotonic() + timeout_s
    try:
        tp = TopicPartition(topic, partition)
        while True:
            try:
                committed = consumer.committed([tp], timeout=30)[0].offset
                if committed is not None and committed >= 0:
                    return int(committed)
                low, _ = consumer.get_watermark_offsets(tp, timeout=30)
                return int(low)
            except KafkaException as error:
                if time.monotonic() > deadline:
                    raise
                log.warning("committed offset of %s[%d] for %s: %s; retrying", topic,
                            partition, group, error)  # fmt: skip
                time.sleep(1.0)  # some errors return at once (coordinator loading): no busy loop
    finally:
        consumer.close()


def read_partition_range(
    settings: Settings, topic: str, partition: int, start: int, end: int, timeout_s: float = 120.0
) -> Iterator[Message]:
    """Yield the records of offsets [start, end) of one partition (worker catch-up, replays)."""
    if start >= end:
        return
    consumer = make_consumer(settings, "streams-range-reader")
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() > deadline:
                raise StreamsError(f"reading {topic}[{partition}] {start}..{end}: timed out")
            for message in consumer.consume(num_messages=5000, timeout=0.5):
                if message.error() is not None:
                    raise StreamsError(f"reading {topic}[{partition}]: {message.error()}")
                offset = message.offset()
                if offset is None or offset >= end:
                    return
                yield message
                if offset + 1 >= end:
                    return
    finally:
        consumer.close()


class KafkaOutputSink:
    """The one producer loop: retry while librdkafka's queue is full, collect delivery errors.

    `flush` (and `raise_errors`) raise `DeliveryError` if any record was not delivered, so no
    caller can lose a record silently.
    """

    def __init__(self, settings: Settings, **overrides: Any) -> None:
        # Only failures call back: a Python callback per delivered record costs ~1 µs each.
        overrides.setdefault("delivery.report.only.error", True)
        self._producer = make_producer(settings, **overrides)
        self._errors: list[str] = []

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}[{message.partition()}]: {error}")

    def produce(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
        *,
        timestamp_ms: int = 0,
    ) -> None:
        """Queue one record (timestamp 0: the producer's time)."""
        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, on_delivery=self._on_delivery,
                    headers=headers,  # type: ignore[arg-type]  # list is invariant; bytes fit
                    timestamp=timestamp_ms,
                )  # fmt: skip
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain, then retry

    def serve_deliveries(self) -> None:
        """Run due delivery callbacks now (for callers that send one record at a time)."""
        self._producer.poll(0)

    def raise_errors(self) -> None:
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError(f"{len(errors)} record(s) failed: {errors[0]}")

    def flush(self, timeout_s: float = 60.0) -> None:
        remaining = self._producer.flush(timeout_s)
        self.raise_errors()
        if remaining:
            raise DeliveryError(f"{remaining} record(s) undelivered after {timeout_s:.0f} s")


def partition_count(settings: Settings, topic: str) -> int:
    """Number of partitions of an existing topic."""
    admin = AdminClient({**settings.kafka_client_config(), "log_level": 0})
    metadata = admin.list_topics(topic, timeout=30).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise StreamsError(f"topic {topic} does not exist")
    return len(metadata.partitions)


class BrokerWatch:
    """Whether the cluster answered a metadata request lately: the broker half of readiness.

    A role's own clients retry silently while the broker is gone, so its readiness would stay
    green; this daemon thread asks for metadata every `interval_s` and the role is unready once
    no answer came for `stale_after_s`.
    """

    def __init__(
        self, settings: Settings, *, interval_s: float = 3.0, stale_after_s: float = 10.0
    ) -> None:
        self._admin = AdminClient({**settings.kafka_client_config(), "log_level": 0})
        self._interval_s = interval_s
        self._stale_after_s = stale_after_s
        self.answered_at = time.monotonic()  # the role checked the broker before starting
        self._thread = threading.Thread(target=self._watch, name="broker-watch", daemon=True)
        self._thread.start()

    @property
    def reachable(self) -> bool:
        return time.monotonic() - self.answered_at < self._stale_after_s

    def _watch(self) -> None:
        while True:
            try:
                self._admin.list_topics(timeout=self._interval_s)
                self.answered_at = time.monotonic()
            except KafkaException:
                pass  # no answer: `reachable` turns false once the last one is old enough
            time.sleep(self._interval_s)
