"""The shared sink loop: consume a batch, decode, write it durably, then commit its offsets.

At-least-once delivery plus idempotent writers means no loss and no duplicates: offsets are
committed only after `BatchWriter.write` returned, so a crash at any point redelivers the
uncommitted records, and the writer turns a second write of the same rows into a no-op.

Undecodable records go to the dead-letter topic with a `reason` header; the dead-letter producer
is flushed before the offsets that cover them are committed. A target that is down raises
`SinkUnavailableError`: the runner pauses its partitions (backpressure: nothing more is fetched),
keeps polling so the group keeps it, and retries the same batch with exponential backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from streams import dead_letters
from streams.codec import CodecError, RecordCodec, TopicCodecs
from streams.config import Settings
from streams.observability import DEAD_LETTERS, SINK_WRITE_SECONDS
from streams.sinks.base import BatchWriter, PartitionBatch
from streams.sinks.exceptions import SinkConfigurationError, SinkUnavailableError
from streams.sinks.tables import IMBALANCE, SUGGESTIONS, Table, unstorable
from streams.transport import DeliveryError, KafkaOutputSink, make_consumer

__all__ = ["SinkConfig", "SinkRunner", "SinkStats"]

log = logging.getLogger(__name__)
ROLE = "sink"
_Key = tuple[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkConfig:
    """How a sink batches and retries. A batch ends at `batch_size` records or `batch_seconds`."""

    group_id: str
    batch_size: int = 20_000
    batch_seconds: float = 2.0
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    # A killed sink's partitions move (and a restarted one gets them back) after this long
    # without heartbeats; librdkafka's default of 45 s is that long an outage of the lake.
    session_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.group_id:
            raise SinkConfigurationError("the sink needs a consumer group id")
        if self.batch_size < 1 or self.batch_seconds <= 0:
            raise SinkConfigurationError("batch size and batch seconds must be positive")
        if not 0 < self.retry_initial_s <= self.retry_max_s:
            raise SinkConfigurationError("need 0 < retry_initial_s <= retry_max_s")
        if not 1 <= self.session_timeout_s <= 3600:
            raise SinkConfigurationError("the session timeout must be 1..3600 seconds")


@dataclass(slots=True)
class SinkStats:
    """Counters of one runner, for logs, tests and the benchmark."""

    rows_written: int = 0
    batches: int = 0
    dead_letters: int = 0
    skipped: int = 0  # already durable from before a crash
    retries: int = 0


class SinkRunner:
    """Consume the output topics into one writer until `stop` is set."""

    def __init__(
        self, settings: Settings, codecs: TopicCodecs, writer: BatchWriter, config: SinkConfig
    ) -> None:
        topics = settings.topics
        self._routes: dict[str, tuple[Table, RecordCodec]] = {
            topics.imbalance: (IMBALANCE, codecs.imbalance),
            topics.suggestions: (SUGGESTIONS, codecs.suggestion),
        }
        self._writer = writer
        self._config = config
        self._dead_letter_topic = topics.dead_letter
        session_ms = int(config.session_timeout_s * 1000)
        self._consumer: Consumer = make_consumer(
            settings, config.group_id, **{"session.timeout.ms": session_ms,
                                           "heartbeat.interval.ms": min(3000, session_ms // 4)},
        )  # fmt: skip
        self._dead_letters = KafkaOutputSink(settings)
        self._pending: dict[_Key, PartitionBatch] = {}
        self._in_flight: dict[_Key, PartitionBatch] = {}
        self._fresh: set[_Key] = set()  # assigned, first record not seen yet
        self._skip_through: dict[_Key, int] = {}
        self._paused = False
        self.stats = SinkStats()
        self.polled_at = time.monotonic()  # liveness: the loop polls at least every 0.5 s

    # -- main loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> SinkStats:
        self._consumer.subscribe(
            list(self._routes),
            on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke,
        )  # fmt: skip
        log.info("%s sink consuming %s as group %s", self._writer.name,
                 ", ".join(self._routes), self._config.group_id)  # fmt: skip
        try:
            while not stop.is_set():
                self._fill(stop)
                if self._pending:
                    self._flush(stop)  # also after a stop: the batch in hand is written first
        finally:
            self._consumer.close()
        return self.stats

    def _fill(self, stop: threading.Event) -> None:
        """Consume until the batch is full or `batch_seconds` passed since its first record."""
        config = self._config
        started: float | None = None
        count = 0
        while not stop.is_set() and count < config.batch_size:
            remaining = (
                0.5 if started is None else started + config.batch_seconds - time.monotonic()
            )
            if remaining <= 0:
                return
            messages = self._consumer.consume(
                num_messages=min(config.batch_size - count, 10_000), timeout=min(remaining, 0.5)
            )
            self.polled_at = time.monotonic()
            for message in messages:
                count += self._add(message)
            if count and started is None:
                started = time.monotonic()

    @property
    def backing_off(self) -> bool:
        """True while the target is down and a batch waits for its retry (not ready)."""
        return self._paused

    # -- records --------------------------------------------------------------------------------
    def _add(self, message: Message) -> int:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer: %s", error)
            return 0
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            return 0
        table, codec = self._routes[topic]
        key = (topic, partition)
        if key in self._fresh:
            self._fresh.discard(key)
            self._skip_through[key] = self._writer.recover(table, topic, partition, offset)
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = PartitionBatch(table, topic, partition, offset, offset)
        batch.last = offset
        if offset <= self._skip_through.get(key, -1):
            self.stats.skipped += 1
            return 1
        try:
            batch.rows.append(self._decode(table, codec, message.value()))
        except dead_letters.REJECTED as decode_error:
            self._dead_letter(message, decode_error)
        return 1

    @staticmethod
    def _decode(table: Table, codec: RecordCodec, value: bytes | None) -> dict[str, Any]:
        row = codec.decode(value or b"")
        problem = unstorable(table, row)
        if problem is not None:
            raise CodecError(f"{codec.name} record cannot be stored: {problem}")
        return row

    def _dead_letter(self, message: Message, error: Exception) -> None:
        headers = dead_letters.headers(
            dead_letters.reason(error),
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
        )
        self._dead_letters.produce(
            self._dead_letter_topic, message.key() or b"", message.value() or b"", headers
        )
        self.stats.dead_letters += 1
        DEAD_LETTERS.labels(ROLE).inc()
        log.warning("%s[%s]@%s to %s: %s", message.topic(), message.partition(),
                    message.offset(), self._dead_letter_topic, error)  # fmt: skip

    # -- writing --------------------------------------------------------------------------------
    def _flush(self, stop: threading.Event) -> None:
        """Write the pending batch, retrying with backoff; commit only once it is durable."""
        self._in_flight, self._pending = self._pending, {}
        delay = self._config.retry_initial_s
        while True:
            batches = list(self._in_flight.values())  # a rebalance may have taken some away
            try:
                with SINK_WRITE_SECONDS.labels(self._writer.name).time():
                    self._writer.write(batches)
                self._dead_letters.flush()
                break
            except (SinkUnavailableError, DeliveryError) as error:
                self.stats.retries += 1
                log.warning("%s sink: %s; retrying in %.1f s (offsets not committed)",
                            self._writer.name, error, delay)  # fmt: skip
                self._wait(delay, stop)
                delay = min(delay * 2, self._config.retry_max_s)
                if stop.is_set():
                    self._in_flight = {}
                    return  # nothing committed: the records are delivered again on restart
        self._in_flight = {}
        self._commit(batches)
        if self._paused:
            self._consumer.resume(self._consumer.assignment())
            self._paused = False

    def _wait(self, seconds: float, stop: threading.Event) -> None:
        """Back off without leaving the group: pause fetching, keep polling for rebalances."""
        if not self._paused:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            timeout = max(0.01, min(0.5, deadline - time.monotonic()))
            for message in self._consumer.consume(num_messages=1000, timeout=timeout):
                self._add(message)  # fetched before the pause: kept for the next batch
            self.polled_at = time.monotonic()

    def _commit(self, batches: Sequence[PartitionBatch]) -> None:
        self.stats.batches += 1
        self.stats.rows_written += sum(len(batch.rows) for batch in batches)
        if not batches:
            return
        offsets = [TopicPartition(b.topic, b.partition, b.last + 1) for b in batches]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            # The rows are durable and writes are idempotent: a redelivery costs time, not rows.
            log.warning("commit of %s failed: %s", ", ".join(b.describe() for b in batches), error)
            return
        log.debug("committed %s", ", ".join(b.describe() for b in batches))

    # -- rebalances -----------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._fresh.update((tp.topic, tp.partition) for tp in partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Uncommitted records of a lost partition are simply dropped: its next owner reads them
        # again from the committed offset and writes them idempotently.
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._pending.pop(key, None)
            self._in_flight.pop(key, None)
            self._fresh.discard(key)
            self._skip_through.pop(key, None)
