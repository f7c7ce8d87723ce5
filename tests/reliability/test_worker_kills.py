"""Workers SIGKILLed again and again mid-stream: after deduplication by record id, the outputs
equal a clean offline run (nothing lost, no conflicting duplicate), and every bad record mixed
into the stream is in the dead-letter topic once its duplicates are removed."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from tests.fixtures.workers import OutputCollector, WorkerFactory, by_instrument, first_differences
from tests.reliability.helpers import (
    BAD_KINDS,
    BadRecord,
    bad_record,
    dead_letters,
    distinct_by_source,
    offline,
    produce_stream,
    recorded_deltas,
)

pytestmark = pytest.mark.integration

KILLS = 4
BAD_EVERY = 400  # one bad record among this many good ones


def _stream_with_bad_records(codecs: TopicCodecs, rng: random.Random) -> list[Any]:
    items: list[Any] = []
    for index, delta in enumerate(recorded_deltas()):
        items.append(delta)
        if index % BAD_EVERY == BAD_EVERY - 1:
            kind = BAD_KINDS[(index // BAD_EVERY) % len(BAD_KINDS)]
            items.append(bad_record(codecs, delta, kind, index))
    return items


def _expected_prefix_counts(items: list[Any], cuts: list[int]) -> list[int]:
    """How many imbalance records the deltas before each cut produce."""
    good = [not isinstance(item, BadRecord) for item in items]
    return [
        len(offline(i for i, ok in zip(items[:cut], good, strict=False) if ok).imbalance)
        for cut in cuts
    ]


def test_workers_killed_at_random_points_lose_and_invent_nothing(
    topics_ready: Settings, worker_factory: WorkerFactory, seed: int
) -> None:
    rng = random.Random(seed)
    codecs = TopicCodecs.register(topics_ready)
    items = _stream_with_bad_records(codecs, rng)
    expected = offline(i for i in items if not isinstance(i, BadRecord))
    bad = [i for i in items if isinstance(i, BadRecord)]
    cuts = [*sorted(rng.sample(range(len(items) // 10, len(items)), KILLS)), len(items)]
    prefix_outputs = _expected_prefix_counts(items, cuts)
    collector = OutputCollector(
        topics_ready, topics_ready.topics.imbalance, codecs.imbalance, "record_id"
    )

    def start_worker() -> Any:
        # small, seeded batches and checkpoint intervals: kills land mid-batch and between
        # checkpoints, and recovery has to re-apply records from the changelog's offset
        return worker_factory(
            "--batch-size", str(rng.randint(10, 80)),
            "--checkpoint-every", str(rng.randint(50, 400)),
        )  # fmt: skip

    worker, published, seen_before = start_worker(), 0, 0
    kill_targets = []
    for round_, cut in enumerate(cuts):
        produce_stream(topics_ready, codecs, items[published:cut])
        published = cut
        if round_ == KILLS:
            break
        target = rng.randint(seen_before, prefix_outputs[round_])
        kill_targets.append(target)
        collector.wait_for(target, 240, alive=lambda w=worker: w.process.poll() is None)
        worker.kill()
        seen_before = len(collector.records)
        worker = start_worker()
    collector.wait_for(len(expected.imbalance), 300, alive=lambda: worker.process.poll() is None)
    collector.poll(2)  # anything beyond the expected records would show up here
    letters, letter_conflicts = distinct_by_source(dead_letters(topics_ready))

    assert len(expected.imbalance) > 9000
    assert len(bad) >= 20
    assert collector.conflicts == []
    assert len(collector.records) == len(expected.imbalance)
    actual = by_instrument(list(collector.records.values()))
    assert first_differences(actual, by_instrument(expected.imbalance)) == []
    assert letter_conflicts == []
    assert Counter((d.key, d.value) for d in letters.values()) == Counter(
        (b.key, b.value) for b in bad
    )
    assert all(d.headers.get("reason") for d in letters.values())
    print(
        f"kills at {kill_targets} outputs; {collector.received} received, "
        f"{collector.received - len(collector.records)} redelivered duplicates; "
        f"{len(letters)} dead letters"
    )
