"""The worker's compute process on the real broker: calls run in order and their outputs equal the
offline run; its death, even in the middle of a call, fails every pending and later call instead
of hanging the worker."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from streams.agents.chunks import Chunk
from streams.agents.compute import ComputeProcess
from streams.agents.exceptions import ComputeProcessError
from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.transport import create_topics, read_topic, topic_specs
from tests.agents.test_processor_resume import _offline, _topic

pytestmark = pytest.mark.integration


@pytest.fixture
def compute(kafka_settings: Settings) -> ComputeProcess:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=1))
    process = ComputeProcess(kafka_settings, Pipeline(), checkpoint_every=400)
    yield process
    process.close()


def _rows(codecs: TopicCodecs, limit: int) -> tuple[list[tuple], list[dict]]:
    topic = _topic(codecs, limit)
    return [(r.partition, r.offset, r.key, r.value) for r in topic], _offline(codecs, topic)


def _chunk(rows: list[tuple]) -> Chunk:
    partition, offsets, keys, values = zip(*rows, strict=True)
    return Chunk(partition[0], list(offsets), list(keys), list(values))


def test_pipelined_batches_give_the_offline_outputs_in_order(
    kafka_settings: Settings, compute: ComputeProcess
) -> None:
    codecs = TopicCodecs.register(kafka_settings)
    rows, expected = _rows(codecs, 1200)

    async def run() -> list:
        restored = await compute.restore_partition("in", 0, {}, 0)
        futures = [
            compute.submit_chunk("in", _chunk(rows[i : i + 300])) for i in range(0, len(rows), 300)
        ]
        return [restored, *await asyncio.gather(*futures)]

    restored, *results = asyncio.run(run())

    assert restored == (0, 0)
    assert sum(r.stats.records for r in results) == len(rows)
    assert any(r.checkpoints for r in results)  # every 400 records of the partition
    got = [
        codecs.imbalance.decode(m.value())
        for m in read_topic(kafka_settings, kafka_settings.topics.imbalance)
    ]
    assert got == expected


def test_death_mid_call_fails_pending_and_later_calls(
    kafka_settings: Settings, compute: ComputeProcess
) -> None:
    codecs = TopicCodecs.register(kafka_settings)
    rows, _ = _rows(codecs, 2000)

    async def run() -> list[BaseException | object]:
        await compute.restore_partition("in", 0, {}, 0)
        futures = [
            compute.submit_chunk("in", _chunk(rows)) for _ in range(8)
        ]  # seconds of work queued
        await futures[0]  # the child is now busy with the second batch
        os.kill(compute.pid, signal.SIGKILL)
        # a hang here is the bug this guards against
        return await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 60)

    outcomes = asyncio.run(run())

    assert all(isinstance(o, ComputeProcessError) for o in outcomes[2:]), outcomes
    assert "gone" in str(outcomes[-1])
    with pytest.raises(ComputeProcessError):
        compute.submit_chunk("in", _chunk(rows[:10]))
