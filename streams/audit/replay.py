"""Recompute imbalance and suggestions from `book-deltas` with the same core as the workers.

The replay reads the real Kafka coordinates, so every recomputed record carries the same
`record_id` / `suggestion_id` as the live one and the audit compares them one to one. Core state
(book, OFI, EWMAs, breaker) depends on each instrument's history, so the replay applies every
retained record of the requested instruments from the start of each partition and emits only the
records whose event time falls inside the requested range. Audits therefore reach back as far as
the topic's retention (see docs/operations.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message, TopicPartition

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.core.pipeline_config import PipelineConfig
from streams.core.types import SourcePosition
from streams.dead_letters import REJECTED
from streams.exceptions import StreamsError
from streams.transport import KafkaOutputSink, make_consumer

__all__ = ["ReplayRequest", "ReplayResult", "publish_replay", "replay"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayRequest:
    """Which outputs to recompute: event time in [start_us, end_us), optional instruments."""

    start_us: int
    end_us: int
    instruments: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.end_us <= self.start_us:
            raise StreamsError("replay range is empty: --to must be after --from")

    def wants(self, key: bytes | None) -> bool:
        return self.instruments is None or (key is not None and key.decode() in self.instruments)


@dataclass(slots=True)
class ReplayResult:
    """Recomputed records, in input order, with what it took to make them."""

    imbalance: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    config_hash: str = ""  # of the configuration the replay ran with
    records_read: int = 0
    records_applied: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        return self.records_read / self.seconds if self.seconds > 0 else 0.0


def _partition_bounds(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    consumer = make_consumer(settings, "streams-replay-bounds")
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise StreamsError(f"topic {topic} not found")
        bounds = {}
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
            if high > low:
                bounds[partition] = (low, high)
        return bounds
    finally:
        consumer.close()


def replay(
    settings: Settings,
    request: ReplayRequest,
    config: PipelineConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Replay every partition of the input topic up to the end it had when called."""
    topic = settings.topics.book_deltas
    codecs = TopicCodecs.register(settings)
    config = config or PipelineConfig()
    pipeline = Pipeline(config.metrics, config.breaker)
    result = ReplayResult(config_hash=pipeline.config_hash)
    started = time.perf_counter()
    bounds = _partition_bounds(settings, topic)
    total = sum(high - low for low, high in bounds.values())
    consumer = make_consumer(settings, "streams-replay")
    try:
        for partition, (low, high) in sorted(bounds.items()):
            consumer.assign([TopicPartition(topic, partition, low)])
            position = low
            while position < high:
                batch = consumer.consume(num_messages=10_000, timeout=1.0)
                for message in batch:
                    offset = message.offset()
                    if message.error() is not None or offset is None or offset >= high:
                        continue
                    position = offset + 1
                    result.records_read += 1
                    if request.wants(message.key()):
                        _apply(pipeline, codecs, request, result, message,
                               SourcePosition(topic, partition, offset))  # fmt: skip
                if progress is not None and batch:
                    progress(result.records_read, total)
    finally:
        consumer.close()
    result.seconds = time.perf_counter() - started
    return result


def _apply(
    pipeline: Pipeline,
    codecs: TopicCodecs,
    request: ReplayRequest,
    result: ReplayResult,
    message: Message,
    position: SourcePosition,
) -> None:
    try:
        delta = codecs.decode_keyed_delta(message.key(), message.value())
        output = pipeline.process(delta, position)
    except REJECTED:
        result.rejected += 1  # the worker sent these to the dead-letter topic
        return
    result.records_applied += 1
    if not request.start_us <= delta.event_time < request.end_us:
        return
    if output.imbalance is not None:
        result.imbalance.append(dict(output.imbalance))
    result.suggestions.extend(dict(s) for s in output.suggestions)


def publish_replay(settings: Settings, result: ReplayResult) -> None:
    """Produce a replay's outputs to the `replay.*` topics (never the live ones), keyed as live."""
    replay_topics = settings.topics.replay()
    codecs = TopicCodecs.register(settings, replay_topics)
    sink = KafkaOutputSink(settings)
    for topic, codec, records in (
        (replay_topics.imbalance, codecs.imbalance, result.imbalance),
        (replay_topics.suggestions, codecs.suggestion, result.suggestions),
    ):
        for record in records:
            sink.produce(
                topic, f"{record['exchange']}:{record['symbol']}".encode(), codec.encode(record)
            )
    sink.flush()
