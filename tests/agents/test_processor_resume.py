"""Each input offset is applied exactly once after a (re)assignment, whatever Faust hands over:
stale redeliveries below the resume point are skipped, a jump past it is filled from the topic."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import pytest

from streams.agents.processor import DeltaBatchProcessor, InputRecord
from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.sources.raw import read_raw
from tests.core.test_pipeline import BYBIT

pytestmark = pytest.mark.unit


class ListSink:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, key: bytes, value: bytes, headers: object = None) -> None:
        self.records.append((topic, key, value))

    def flush(self) -> None:
        pass


def _topic(codecs: TopicCodecs, limit: int = 1200) -> list[InputRecord]:
    records = []
    for offset, (delta, _) in enumerate(read_raw(None, BYBIT)):
        if offset == limit:
            break
        key = delta.instrument.encode()
        records.append(InputRecord("in", 0, offset, key, codecs.encode_delta(delta)))
    return records


def _offline(codecs: TopicCodecs, topic: list[InputRecord]) -> list[dict]:
    pipeline = Pipeline()
    out = []
    for r in topic:
        delta = codecs.decode_keyed_delta(r.key, r.value)
        result = pipeline.process(delta, SourcePosition("in", 0, r.offset))
        if result.imbalance is not None:
            out.append(result.imbalance)
    return out


def test_resume_skips_redeliveries_and_fills_jumps() -> None:
    settings = Settings(schema_registry_url=f"mock://{uuid.uuid4().hex[:8]}")
    codecs = TopicCodecs.register(settings)
    topic = _topic(codecs)
    expected = {r["record_id"]: r for r in _offline(codecs, topic)}

    def read_range(partition: int, start: int, end: int) -> Iterable[InputRecord]:
        return topic[start:end]

    # The first owner processed [0, 700), checkpointed at 499, and its group committed 600.
    first_sink = ListSink()
    first = DeltaBatchProcessor(
        Pipeline(), codecs, settings.topics, first_sink, checkpoint_every=500
    )
    first.restore_partition(0, {}, 0, read_range)
    first.process_batch(topic[:500])
    checkpoints = first.checkpoint(0)
    first.process_batch(topic[500:700])

    second_sink = ListSink()
    second = DeltaBatchProcessor(Pipeline(), codecs, settings.topics, second_sink)
    assert second.restore_partition(0, checkpoints, 600, read_range) == 100  # 500..599, silently
    # A stale batch from before a rebalance starts at 650; then Faust redelivers from 600.
    second.process_batch(topic[650:660])
    second.process_batch(topic[600:900])
    second.process_batch(topic[900:])

    emitted = [
        codecs.imbalance.decode(v)
        for t, _, v in second_sink.records
        if t == settings.topics.imbalance
    ]
    ids = [r["record_id"] for r in emitted]
    assert len(ids) == len(set(ids))  # each offset applied exactly once
    assert all(r == expected[r["record_id"]] for r in emitted)
    assert {int(i.rsplit("/", 1)[1]) for i in ids} == {
        int(i.rsplit("/", 1)[1]) for i in expected if int(i.rsplit("/", 1)[1]) >= 600
    }
