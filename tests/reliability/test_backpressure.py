"""A slow or unavailable sink target: the runner stops fetching (paused partitions) instead of
buffering the backlog, so what it holds in memory stays within one batch, and nothing is lost
once the target answers again.

Bound: at most `batch_size` decoded rows per write attempt (each row is one output record,
about 1 KB decoded), whatever the backlog in Kafka; librdkafka's pre-fetch queue is dropped
on pause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.sinks.base import BatchWriter, PartitionBatch
from streams.sinks.exceptions import SinkUnavailableError
from streams.sinks.parquet import ParquetWriter
from streams.sinks.tables import IMBALANCE, Table
from tests.fixtures.waiting import wait_until
from tests.sinks.conftest import ParquetTarget, RunningSink
from tests.sinks.records import make_records, produce

pytestmark = pytest.mark.integration

BACKLOG = 20_000
BATCH = 1_000
OUTAGE_ATTEMPTS = 6


class SlowThenDown:
    """A real writer behind a target that refuses the first attempts; it records batch sizes."""

    def __init__(self, writer: BatchWriter, failures: int) -> None:
        self._writer = writer
        self._failures = failures
        self.name = writer.name
        self.attempt_rows: list[int] = []

    def recover(self, table: Table, topic: str, partition: int, start_offset: int) -> int:
        return self._writer.recover(table, topic, partition, start_offset)

    def write(self, batches: Sequence[PartitionBatch]) -> None:
        self.attempt_rows.append(sum(len(batch.rows) for batch in batches))
        if self._failures > 0:
            self._failures -= 1
            raise SinkUnavailableError("target down (test)")
        self._writer.write(batches)

    def close(self) -> None:
        self._writer.close()


def test_sink_holds_at_most_one_batch_while_the_target_is_down(
    kafka_settings: Settings, tmp_path: Path, run_sink: Callable[..., RunningSink]
) -> None:
    codecs = TopicCodecs.register(kafka_settings)
    records = make_records(IMBALANCE, 0, BACKLOG, "bp")
    produce(kafka_settings, IMBALANCE, records, codecs)
    target = ParquetTarget(tmp_path / "lake")
    writer = SlowThenDown(ParquetWriter(target.root), OUTAGE_ATTEMPTS)

    sink = run_sink(writer, "backpressure", batch_size=BATCH, retry_initial_s=0.05,
                    retry_max_s=0.2)  # fmt: skip
    wait_until(lambda: len(target.rows(IMBALANCE)) >= BACKLOG or sink.errors != [], 240, "rows")
    sink.close()

    ids = [row["record_id"] for row in target.rows(IMBALANCE)]
    assert sink.errors == []
    assert sink.runner.stats.retries == OUTAGE_ATTEMPTS
    assert max(writer.attempt_rows) <= BATCH
    assert sorted(ids) == sorted(r["record_id"] for r in records)  # none lost, none twice
    print(f"backpressure: {len(writer.attempt_rows)} write attempts, max "
          f"{max(writer.attempt_rows)} rows held, backlog {BACKLOG}")  # fmt: skip
