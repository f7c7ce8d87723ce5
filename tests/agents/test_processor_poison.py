"""Poison pills through the worker's batch processor: records the codec accepts but whose values
no later stage can hold are dead-lettered with a reason; the batch, and the partition, go on."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from streams.agents.processor import DeltaBatchProcessor, InputRecord
from streams.codec import TopicCodecs, delta_to_record
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta
from tests.agents.test_processor_resume import ListSink

pytestmark = pytest.mark.unit

T0 = 1_600_000_000_000_000
GOOD = BookDelta("TEST", "BTC-USD", "BTCUSD", T0, T0, True, (100.0,), (1.0,), (101.0,), (1.0,))
POISON = {
    "huge finite prices": {"bid_prices": (1e308,), "ask_prices": (1.7e308,)},
    "event time at the int64 edge": {"event_time": 2**63 - 1},
    "receive time at the int64 edge": {"receive_time": -(2**63)},
    "empty symbol": {"symbol": ""},
    "empty exchange": {"exchange": ""},
}


class HeaderSink(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.headers: list[dict[str, bytes]] = []

    def produce(self, topic: str, key: bytes, value: bytes, headers: object = None) -> None:
        super().produce(topic, key, value)
        self.headers.append(dict(headers or []))  # type: ignore[call-overload]


def test_poison_records_are_dead_lettered_and_the_good_ones_still_computed() -> None:
    settings = Settings(schema_registry_url=f"mock://{uuid.uuid4().hex[:8]}")
    codecs = TopicCodecs.register(settings)
    records = []
    for offset, change in enumerate(POISON.values()):
        poison = replace(GOOD, **change)  # type: ignore[arg-type]
        value = codecs.book_delta.encode(delta_to_record(poison))  # the codec carries them
        records.append(InputRecord("in", 0, offset, poison.instrument.encode(), value))
    canary = InputRecord("in", 0, len(records), GOOD.instrument.encode(), codecs.encode_delta(GOOD))
    sink = HeaderSink()
    processor = DeltaBatchProcessor(Pipeline(), codecs, settings.topics, sink)

    stats = processor.process_batch([*records, canary])

    assert stats.dead_letters == len(POISON)
    assert stats.imbalance == 1
    topics = [topic for topic, _, _ in sink.records]
    assert topics.count(settings.topics.dead_letter) == len(POISON)
    reasons = [h["reason"] for h in sink.headers if "reason" in h]
    assert all(reason.startswith(b"InvalidDeltaError") for reason in reasons), reasons


def test_a_delta_dropped_on_purpose_is_counted_by_reason() -> None:
    settings = Settings(schema_registry_url=f"mock://{uuid.uuid4().hex[:8]}")
    codecs = TopicCodecs.register(settings)
    before_snapshot = replace(GOOD, is_snapshot=False)
    records = [
        InputRecord("in", 0, 0, GOOD.instrument.encode(), codecs.encode_delta(before_snapshot)),
        InputRecord("in", 0, 1, GOOD.instrument.encode(), codecs.encode_delta(GOOD)),
    ]
    processor = DeltaBatchProcessor(Pipeline(), codecs, settings.topics, ListSink())
    stats = processor.process_batch(records)
    assert stats.dropped == {"unknown-instrument": 1}
    assert stats.records == stats.imbalance + stats.dead_letters + sum(stats.dropped.values())
