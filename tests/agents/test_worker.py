"""The Faust worker on the real broker: same outputs as the offline command, crash recovery,
rebalancing between two workers."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from streams.agents.app import EXIT_COMPUTE_FAILED
from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta
from streams.sources.spec import open_source
from streams.transport import (
    DeltaPublisher,
    KafkaOutputSink,
    TopicSpec,
    create_topics,
    topic_specs,
)
from tests.fixtures.workers import (
    RECORDINGS,
    OutputCollector,
    WorkerFactory,
    WorkerProcess,
    by_instrument,
    first_differences,
)

pytestmark = pytest.mark.integration

RECORDING = RECORDINGS / "BYBIT.jsonl.zst"


def _recording() -> tuple[list[BookDelta], list[dict[str, Any]]]:
    """The recording's deltas and what the offline pipeline computes from them."""
    pipeline = Pipeline()
    deltas, expected = [], []
    for delta, position in open_source(f"raw:BYBIT:{RECORDING}"):
        deltas.append(delta)
        output = pipeline.process(delta, position)
        if output.imbalance is not None:
            expected.append(dict(output.imbalance))
    return deltas, expected


def _publish(settings: Settings, deltas: list[BookDelta]) -> None:
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings))
    publisher.publish_many(deltas)
    publisher.flush()


def _gone(pids: list[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _assert_all_outputs_equal_offline(
    collector: OutputCollector, expected: list[dict[str, Any]], worker: WorkerProcess
) -> None:
    """Wait for every expected record (from `worker`, which must stay alive), then compare."""
    collector.wait_for(len(expected), 240, alive=lambda: worker.process.poll() is None)
    collector.poll(2)  # anything beyond the expected count would show up here
    assert collector.conflicts == []  # a redelivered record_id always carries the same record
    got = by_instrument(list(collector.records.values()))
    assert first_differences(got, by_instrument(expected)) == []


def _collector(settings: Settings) -> OutputCollector:
    codecs = TopicCodecs.register(settings)
    return OutputCollector(settings, settings.topics.imbalance, codecs.imbalance, "record_id")


@pytest.fixture
def topics_ready(kafka_settings: Settings) -> Settings:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=3))
    return kafka_settings


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_worker_imbalance_topic_equals_offline_output(
    topics_ready: Settings, worker_factory: WorkerFactory, guarantee: str
) -> None:
    deltas, expected = _recording()
    _publish(topics_ready, deltas)
    collector = _collector(topics_ready)

    worker = worker_factory("--processing-guarantee", guarantee)
    assert len(expected) > 1000
    _assert_all_outputs_equal_offline(collector, expected, worker)


def test_worker_killed_mid_stream_recovers_books_from_the_changelog(
    topics_ready: Settings, worker_factory: WorkerFactory
) -> None:
    deltas, expected = _recording()
    half = len(deltas) // 2
    _publish(topics_ready, deltas[:half])
    collector = _collector(topics_ready)
    first = worker_factory("--checkpoint-every", "150", "--batch-size", "100")
    collector.wait_for(len(expected) // 4, 240, alive=lambda: first.process.poll() is None)

    children = first.children()
    first.kill()
    # its compute process dies with it: nothing keeps producing for partitions it no longer owns
    assert children
    assert _gone(children, 10), f"orphans of the killed worker: {children}"
    _publish(topics_ready, deltas[half:])
    second = worker_factory("--checkpoint-every", "150", "--batch-size", "100")
    _assert_all_outputs_equal_offline(collector, expected, second)


def test_a_partition_restore_that_fails_exits_the_worker_instead_of_leaving_it_stuck(
    topics_ready: Settings, worker_factory: WorkerFactory
) -> None:
    # Any failure of a restore (here an unreadable checkpoint; under load a Kafka query timing
    # out) crashed the agent; Faust restarted it and the worker stayed up, ready and idle for
    # good with its batch unacknowledged. Its supervisor must see it exit instead.
    changelog = f"{worker_factory.app_id}-instrument-checkpoints-changelog"
    create_topics(topics_ready, [TopicSpec(changelog, 3, {"cleanup.policy": "compact"})])
    out = KafkaOutputSink(topics_ready)
    out.produce(changelog, b"BYBIT:BTC-USDT-PERP", b"bad")  # shorter than any checkpoint
    out.flush()
    deltas, _ = _recording()
    _publish(topics_ready, deltas[:300])

    worker = worker_factory("--batch-size", "100")

    assert worker.process.wait(timeout=300) == EXIT_COMPUTE_FAILED
    assert "checkpoint shorter than its header" in worker.log()


def test_two_workers_share_partitions_and_hand_over_book_state(
    topics_ready: Settings, worker_factory: WorkerFactory
) -> None:
    deltas, expected = _recording()
    third = len(deltas) // 3
    collector = _collector(topics_ready)
    first = worker_factory("--checkpoint-every", "200")
    _publish(topics_ready, deltas[:third])
    collector.wait_for(len(expected) // 5, 240, alive=lambda: first.process.poll() is None)

    second = worker_factory("--checkpoint-every", "200")
    _publish(topics_ready, deltas[third : 2 * third])
    collector.wait_for(len(expected) // 2, 240, alive=lambda: second.process.poll() is None)
    assert first.terminate() == 0
    _publish(topics_ready, deltas[2 * third :])
    _assert_all_outputs_equal_offline(collector, expected, second)


def test_worker_whose_compute_process_dies_exits_and_a_replacement_loses_nothing(
    topics_ready: Settings, worker_factory: WorkerFactory
) -> None:
    deltas, expected = _recording()
    _publish(topics_ready, deltas)
    collector = _collector(topics_ready)
    first = worker_factory("--checkpoint-every", "150", "--batch-size", "100")
    collector.wait_for(len(expected) // 4, 240, alive=lambda: first.process.poll() is None)

    os.kill(first.compute_process(), signal.SIGKILL)
    # its state is gone with the child: the worker must exit at once (non-zero, for its
    # supervisor), not carry on without books or hang in a graceful stop
    assert first.process.wait(timeout=60) == EXIT_COMPUTE_FAILED
    second = worker_factory("--checkpoint-every", "150", "--batch-size", "100")
    _assert_all_outputs_equal_offline(collector, expected, second)


def test_sigterm_to_the_whole_process_group_stops_the_worker_cleanly(
    topics_ready: Settings, worker_factory: WorkerFactory
) -> None:
    # systemd (KillMode=control-group) and `timeout` signal every process of the worker at once:
    # the compute process leaves the shutdown to its parent, which exits 0.
    deltas, expected = _recording()
    _publish(topics_ready, deltas)
    collector = _collector(topics_ready)
    worker = worker_factory("--batch-size", "100", new_session=True)
    collector.wait_for(len(expected) // 4, 240, alive=lambda: worker.process.poll() is None)
    children = worker.children()

    os.killpg(worker.process.pid, signal.SIGTERM)

    assert worker.process.wait(timeout=60) == 0
    assert _gone(children, 10), f"processes left behind: {children}"


def test_three_workers_on_twelve_partitions_scale_out_and_one_stopping_loses_nothing(
    kafka_settings: Settings, worker_factory: WorkerFactory
) -> None:
    # scaling out is more partitions and more workers, nothing else (docs/capacity.md)
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=12))
    deltas, expected = _recording()
    half = len(deltas) // 2
    collector = _collector(kafka_settings)
    workers = [worker_factory("--checkpoint-every", "200") for _ in range(3)]
    _publish(kafka_settings, deltas[:half])
    collector.wait_for(len(expected) // 3, 240, alive=lambda: workers[2].process.poll() is None)

    assert workers[0].terminate() == 0
    _publish(kafka_settings, deltas[half:])
    collector.wait_for(len(expected), 240, alive=lambda: workers[1].process.poll() is None)
    _assert_all_outputs_equal_offline(collector, expected, workers[2])
