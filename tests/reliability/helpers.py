"""Inputs, expected outputs and readers shared by the reliability tests.

The stream is real: two exchange recordings (Bybit and Kraken Futures, 16 instruments, ~9,200
packets) interleaved in a seeded order that keeps every instrument's own order. Bad records are
built from real encoded deltas, so they reach the same partitions as the good ones.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from confluent_kafka import TopicPartition

from streams.codec import TopicCodecs, delta_to_record
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition
from streams.sources.spec import open_source
from streams.transport import KafkaOutputSink, make_consumer, read_topic
from tests.fixtures.workers import RECORDINGS

SOURCES = (
    f"raw:BYBIT:{RECORDINGS / 'BYBIT.jsonl.zst'}",
    f"raw:KRAKEN_FUTURES:{RECORDINGS / 'KRAKEN_FUTURES.ws.1.0'}",
)


@cache
def recorded_deltas(seed: int = 0) -> tuple[BookDelta, ...]:
    """Both recordings merged in a seeded random order (each instrument keeps its own order)."""
    queues = [list(delta for delta, _ in open_source(spec)) for spec in SOURCES]
    rng = random.Random(seed)
    merged: list[BookDelta] = []
    positions = [0] * len(queues)
    while any(p < len(q) for p, q in zip(positions, queues, strict=True)):
        live = [i for i, q in enumerate(queues) if positions[i] < len(q)]
        i = rng.choice(live)
        merged.append(queues[i][positions[i]])
        positions[i] += 1
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class Expected:
    imbalance: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]


def offline(deltas: Iterable[BookDelta]) -> Expected:
    """What a clean offline run of the core computes from the deltas."""
    pipeline = Pipeline()
    imbalance, suggestions = [], []
    for index, delta in enumerate(deltas):
        output = pipeline.process(delta, SourcePosition("offline", 0, index))
        if output.imbalance is not None:
            imbalance.append(dict(output.imbalance))
        suggestions.extend(dict(s) for s in output.suggestions)
    return Expected(imbalance, suggestions)


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record the worker must refuse: its key, its bytes and why it is bad."""

    kind: str
    key: bytes
    value: bytes


BAD_KINDS = ("bad-magic", "truncated", "key-mismatch", "nan-price", "negative-size", "no-value")


def bad_record(codecs: TopicCodecs, delta: BookDelta, kind: str, tag: int) -> BadRecord:
    """A corrupted copy of a real delta; `tag` (in the venue symbol) makes each one unique."""
    tagged = replace(delta, venue_symbol=f"{delta.venue_symbol}#bad{tag}")
    key = delta.instrument.encode()
    good = codecs.encode_delta(tagged)
    if kind == "bad-magic":
        return BadRecord(kind, key, b"\x07" + good[1:])
    if kind == "truncated":
        return BadRecord(kind, key, good[: len(good) // 2])
    if kind == "key-mismatch":
        return BadRecord(kind, key + b"-other", good)
    if kind == "no-value":
        return BadRecord(kind, key, b"")
    record = delta_to_record(tagged)
    if kind == "nan-price":
        record["bid_prices"] = [math.nan, *record["bid_prices"]]
        record["bid_sizes"] = [1.0, *record["bid_sizes"]]
    else:  # negative-size
        record["ask_prices"] = [1.0, *record["ask_prices"]]
        record["ask_sizes"] = [-1.0, *record["ask_sizes"]]
    return BadRecord(kind, key, codecs.book_delta.encode(record))


def produce_stream(settings: Settings, codecs: TopicCodecs, items: Iterable[Any]) -> int:
    """Produce deltas (encoded) and `BadRecord`s in order to the input topic; return the count."""
    sink = KafkaOutputSink(settings)
    topic = settings.topics.book_deltas
    count = 0
    for item in items:
        if isinstance(item, BadRecord):
            sink.produce(topic, item.key, item.value)
        else:
            sink.produce(topic, item.instrument.encode(), codecs.encode_delta(item))
        count += 1
    sink.flush()
    return count


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes
    value: bytes
    headers: dict[str, str]

    @property
    def source(self) -> tuple[str, str, str]:
        h = self.headers
        return h.get("source.topic", ""), h.get("source.partition", ""), h.get("source.offset", "")


def dead_letters(settings: Settings) -> list[DeadLetter]:
    """Every record of the dead-letter topic (empty when the topic has none)."""
    consumer = make_consumer(settings, "dead-letter-probe")
    try:
        topic = settings.topics.dead_letter
        metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
        partitions = sorted(metadata.partitions) if metadata and metadata.partitions else []
        if not any(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in partitions
        ):
            return []
    finally:
        consumer.close()
    letters = []
    for message in read_topic(settings, settings.topics.dead_letter):
        headers = {k: (v or b"").decode("utf-8", "replace") for k, v in message.headers() or []}
        letters.append(DeadLetter(message.key() or b"", message.value() or b"", headers))
    return letters


def distinct_by_source(
    letters: list[DeadLetter],
) -> tuple[dict[tuple[str, str, str], DeadLetter], list[str]]:
    """Deduplicate redelivered dead letters by source coordinates; list any that disagree."""
    kept: dict[tuple[str, str, str], DeadLetter] = {}
    conflicts = []
    for letter in letters:
        previous = kept.setdefault(letter.source, letter)
        if (previous.key, previous.value) != (letter.key, letter.value):
            conflicts.append(str(letter.source))
    return kept, conflicts
