"""The Kafka side of the live view: read the output topics on a thread into `DashboardState`.

Partitions are assigned directly (no consumer group, nothing committed): a viewer must never move
a group's offsets or trigger a rebalance of real consumers. Each partition starts `backfill`
records before its end, so a page opened now still shows the recent past. Undecodable records are
counted and named on the page (topic[partition]@offset and why); the topics are left untouched.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from streams.codec import CodecError, TopicCodecs
from streams.config import Settings
from streams.dashboard.window import DashboardState
from streams.transport import make_consumer

__all__ = ["TopicFeed"]

log = logging.getLogger(__name__)

_BATCH = 1000
_RETRY_S = 2.0


class TopicFeed:
    """A background thread that consumes `imbalance` and `circuit-breaker-suggestions`."""

    def __init__(
        self,
        settings: Settings,
        state: DashboardState,
        codecs: TopicCodecs,
        *,
        backfill: int,
        poll_timeout_s: float = 0.1,
    ) -> None:
        self._settings = settings
        self._state = state
        self._codecs = codecs
        self._backfill = backfill
        self._poll_timeout_s = poll_timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-feed", daemon=True)
        topics = settings.topics
        self._decoders = {
            topics.imbalance: (codecs.imbalance.decode, state.ingest_imbalance),
            topics.suggestions: (codecs.suggestion.decode, state.ingest_suggestions),
        }

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        consumer = make_consumer(self._settings, "streams-dashboard", **{"log_level": 3})
        try:
            while not self._stop.is_set() and not self._assign(consumer):
                self._stop.wait(_RETRY_S)
            while not self._stop.is_set():
                self._consume(consumer)
        except KafkaException as error:
            log.error("dashboard feed stopped: %s", error)
            self._state.set_feed(f"stopped: {error}")
            self._state.record_error(f"feed stopped: {error}")
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer) -> bool:
        """Assign every partition of both topics near its end; False while a topic is missing."""
        assignment: list[TopicPartition] = []
        for topic in self._decoders:
            try:
                metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
            except KafkaException as error:
                self._state.set_feed(f"waiting for Kafka: {error}")
                return False
            if metadata is None or metadata.error is not None or not metadata.partitions:
                self._state.set_feed(f"waiting for topic {topic}")
                return False
            for partition in sorted(metadata.partitions):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=5
                )
                assignment.append(TopicPartition(topic, partition, max(low, high - self._backfill)))
        consumer.assign(assignment)
        self._state.set_feed(f"reading {len(assignment)} partitions")
        log.info(
            "dashboard feed assigned %s", [(p.topic, p.partition, p.offset) for p in assignment]
        )
        return True

    def _consume(self, consumer: Consumer) -> None:
        messages = consumer.consume(num_messages=_BATCH, timeout=self._poll_timeout_s)
        if not messages:
            return
        batches: dict[str, list[dict[str, Any]]] = {topic: [] for topic in self._decoders}
        for message in messages:
            record = self._decode(message)
            if record is not None:
                batches[message.topic() or ""].append(record)
        for topic, records in batches.items():
            if records:
                self._decoders[topic][1](records)

    def _decode(self, message: Message) -> dict[str, Any] | None:
        where = f"{message.topic()}[{message.partition()}]@{message.offset()}"
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                self._state.record_error(f"{where}: {error.str()}")
            return None
        topic = message.topic() or ""
        try:
            return self._decoders[topic][0](message.value() or b"")
        except (CodecError, KeyError) as decode_error:
            self._state.record_error(f"{where}: {decode_error}")
            return None
