"""One batch of `book-deltas` records through the core, with dead letters and checkpoints.

Kept free of Faust so the same logic is tested directly; `agents/app.py` feeds it from a Faust
agent. State recovery: every instrument's core state is checkpointed to a changelog-backed table
every `checkpoint_every` records of its partition, stamped with the source offset it reflects.
When a partition is (re)assigned, its instruments are restored from those checkpoints and the
records between the oldest checkpoint and the group's committed offset are re-applied without
emitting (their outputs were flushed before their offsets were committed). From then on each
offset is applied exactly once: redeliveries below the next expected offset are skipped, and a
jump past it is filled from Kafka before the record that jumped.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from streams.agents.exceptions import CheckpointError
from streams.codec import TopicCodecs
from streams.config import Topics
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.dead_letters import REJECTED, record_headers

__all__ = [
    "BatchStats",
    "DeltaBatchProcessor",
    "InputRecord",
    "OutputSink",
    "pack_checkpoint",
    "unpack_checkpoint",
]

_CHECKPOINT_HEADER = struct.Struct(">Hiq")  # format version, partition, offset
_CHECKPOINT_VERSION = 1


@dataclass(frozen=True, slots=True)
class InputRecord:
    """A consumed Kafka record, whoever consumed it (Faust, confluent-kafka, a test)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class OutputSink(Protocol):
    """Where output records go: a Kafka producer in production."""

    def produce(
        self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> None: ...

    def flush(self) -> None: ...


@dataclass(slots=True)
class BatchStats:
    """Counts of one batch, for metrics and logs."""

    records: int = 0
    skipped: int = 0
    dead_letters: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> deltas dropped on purpose
    imbalance: int = 0
    suggestions: int = 0
    latencies_us: list[int] = field(default_factory=list)
    suggestion_actions: list[str] = field(default_factory=list)


def pack_checkpoint(partition: int, offset: int, state: bytes) -> bytes:
    return _CHECKPOINT_HEADER.pack(_CHECKPOINT_VERSION, partition, offset) + state


def unpack_checkpoint(data: bytes) -> tuple[int, int, bytes]:
    """Return (partition, offset, core state) of a stored checkpoint."""
    if len(data) < _CHECKPOINT_HEADER.size:
        raise CheckpointError("checkpoint shorter than its header")
    version, partition, offset = _CHECKPOINT_HEADER.unpack_from(data)
    if version != _CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint format version {version} is not supported")
    return partition, offset, data[_CHECKPOINT_HEADER.size :]


class DeltaBatchProcessor:
    """Decode, validate, compute and publish; route every bad record to the dead-letter topic."""

    def __init__(
        self,
        pipeline: Pipeline,
        codecs: TopicCodecs,
        topics: Topics,
        sink: OutputSink,
        *,
        checkpoint_every: int = 5_000,
    ) -> None:
        self.pipeline = pipeline
        self._codecs = codecs
        self._topics = topics
        self._sink = sink
        self._checkpoint_every = checkpoint_every
        self._instrument_partition: dict[str, int] = {}
        self._last_offset: dict[int, int] = {}
        self._since_checkpoint: dict[int, int] = {}
        self._applied_through: dict[str, int] = {}  # instrument -> checkpoint offset to skip to
        # partition -> next offset to apply, once restored; redeliveries below it are skipped and
        # a jump past it is filled from Kafka first, so each offset is applied exactly once
        self._expected: dict[int, int] = {}
        self._read_range: dict[int, Callable[[int, int, int], Iterable[InputRecord]]] = {}

    # -- the hot path ---------------------------------------------------------------------------
    def process_batch(self, records: Sequence[InputRecord], *, emit: bool = True) -> BatchStats:
        """Process records in order; with `emit=False` only rebuild state (catch-up)."""
        stats = BatchStats()
        now_us = time.time_ns() // 1000  # shell only: latency metric, never reaches the core
        for record in records:
            expected = self._expected.get(record.partition) if emit else None
            if expected is not None:
                if record.offset < expected:
                    stats.skipped += 1  # a redelivery: already applied, outputs already flushed
                    continue
                if record.offset > expected:  # records we were never handed: apply them first
                    reader = self._read_range[record.partition]
                    for missing in reader(record.partition, expected, record.offset):
                        self._apply(missing, stats, emit, now_us)
                self._expected[record.partition] = record.offset + 1
            self._apply(record, stats, emit, now_us)
        if emit:
            self._sink.flush()
        return stats

    def _apply(self, record: InputRecord, stats: BatchStats, emit: bool, now_us: int) -> None:
        stats.records += 1
        self._process_one(record, stats, emit, now_us)
        self._last_offset[record.partition] = record.offset
        self._since_checkpoint[record.partition] = (
            self._since_checkpoint.get(record.partition, 0) + 1
        )

    def _process_one(self, record: InputRecord, stats: BatchStats, emit: bool, now_us: int) -> None:
        key = record.key.decode("utf-8", "replace") if record.key else ""
        if record.offset <= self._applied_through.get(key, -1):
            stats.skipped += 1
            return
        position = SourcePosition(record.topic, record.partition, record.offset)
        try:
            delta = self._codecs.decode_keyed_delta(record.key, record.value)
            output = self.pipeline.process(delta, position)
        except REJECTED as error:
            if emit:
                self._dead_letter(record, error)
            stats.dead_letters += 1
            return
        if output.dropped is not None:
            stats.dropped[output.dropped] = stats.dropped.get(output.dropped, 0) + 1
        if output.dropped != "unknown-instrument":  # made-up ids get no state to checkpoint
            self._instrument_partition[key] = record.partition
        if not emit:
            return
        if output.imbalance is not None:
            self._sink.produce(
                self._topics.imbalance,
                record.key or b"",
                self._codecs.imbalance.encode(output.imbalance),
            )
            stats.imbalance += 1
            stats.latencies_us.append(now_us - delta.receive_time)
        for suggestion in output.suggestions:
            self._sink.produce(
                self._topics.suggestions,
                record.key or b"",
                self._codecs.suggestion.encode(suggestion),
            )
            stats.suggestions += 1
            stats.suggestion_actions.append(str(suggestion.get("action", "")))

    def _dead_letter(self, record: InputRecord, error: Exception) -> None:
        headers = record_headers(error, record.topic, record.partition, record.offset)
        self._sink.produce(
            self._topics.dead_letter, record.key or b"", record.value or b"", headers
        )

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint_due(self, partition: int) -> bool:
        return self._since_checkpoint.get(partition, 0) >= self._checkpoint_every

    def checkpoint(self, partition: int) -> dict[str, bytes]:
        """Every instrument of the partition, stamped with the partition's last offset."""
        offset = self._last_offset.get(partition, -1)
        self._since_checkpoint[partition] = 0
        return {
            instrument: pack_checkpoint(partition, offset, self.pipeline.snapshot_state(instrument))
            for instrument in self.instruments(partition)
        }

    def instruments(self, partition: int) -> list[str]:
        return sorted(i for i, p in self._instrument_partition.items() if p == partition)

    def restore_partition(
        self,
        partition: int,
        checkpoints: Mapping[str, bytes],
        first_offset: int,
        read_range: Callable[[int, int, int], Iterable[InputRecord]],
        low_watermark: int = 0,
    ) -> int:
        """Restore a (re)assigned partition; return how many records were re-applied.

        `first_offset` is where consumption resumes (the group's committed offset): records below
        it were emitted by a previous owner, so the catch-up re-applies them without emitting.
        `read_range(partition, start, end)` yields the records of [start, end) of the input topic.
        Without any checkpoint the partition is rebuilt from its low watermark.
        """
        resume_offsets = []
        for instrument, data in sorted(checkpoints.items()):
            stored_partition, offset, state = unpack_checkpoint(data)
            if stored_partition != partition:
                continue
            self.pipeline.restore_state(instrument, state)
            self._instrument_partition[instrument] = partition
            self._applied_through[instrument] = offset
            resume_offsets.append(offset + 1)
        start = max(min(resume_offsets, default=low_watermark), low_watermark)
        replayed = 0
        if start < first_offset:
            replay = list(read_range(partition, start, first_offset))
            replayed = self.process_batch(replay, emit=False).records
        self._expected[partition] = max(first_offset, start)
        self._read_range[partition] = read_range
        return replayed

    def release_partition(self, partition: int) -> None:
        """Forget the instruments of a partition this worker no longer owns."""
        for instrument in self.instruments(partition):
            self.pipeline.forget(instrument)
            del self._instrument_partition[instrument]
            self._applied_through.pop(instrument, None)
        self._last_offset.pop(partition, None)
        self._since_checkpoint.pop(partition, None)
        self._expected.pop(partition, None)
        self._read_range.pop(partition, None)
