"""The contract between the runner and a writer (Parquet, PostgreSQL).

The runner hands a writer whole batches, one `PartitionBatch` per topic-partition, and commits
the batch's offsets only after `write` returned: `write` returning means the rows are durable.
Writers are idempotent: a batch written again after a crash (same rows, possibly cut at other
offsets) leaves exactly one copy of each row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from streams.sinks.tables import Table

__all__ = ["BatchWriter", "PartitionBatch"]


@dataclass(slots=True)
class PartitionBatch:
    """Consecutive records of one topic-partition: offsets `first..last`, decoded rows.

    `first..last` covers every consumed offset, also those that went to the dead-letter topic,
    so `rows` may be shorter than the range.
    """

    table: Table
    topic: str
    partition: int
    first: int
    last: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.topic}[{self.partition}] {self.first}..{self.last}"


class BatchWriter(Protocol):
    """A durable, idempotent destination for batches."""

    name: str

    def recover(self, table: Table, topic: str, partition: int, start_offset: int) -> int:
        """Prepare to write a partition from `start_offset`; return the last offset already
        durable at or after it (`start_offset - 1` when none), which the runner then skips."""
        ...

    def write(self, batches: Sequence[PartitionBatch]) -> None:
        """Write all batches durably, or raise (SinkUnavailableError when worth retrying)."""
        ...

    def close(self) -> None: ...
