"""Parquet sink: hive-partitioned files, written atomically, named by their Kafka offsets.

Layout (docs/sinks.md):

    ROOT/<table>/exchange=<EXCHANGE>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/<topic>-<partition>-<first>-<last>.parquet

`first..last` (zero-padded) is the offset range of the batch of that topic-partition, so all files
of one batch share the name. A batch appears whole or not at all, and no visible file ever
vanishes (a DuckDB query over the lake never sees half a batch nor a missing file): every file is
written under a hidden temp name and fsynced, then a journal listing the renames is written
(atomically, itself by rename), then the renames are done and the journal removed. A crash before
the journal leaves only hidden temps (removed on recovery); a crash after it is rolled forward.

Exactly once per offset, across crashes: when a partition is assigned, `recover` reports the
last offset already on disk (files written, then the sink died before committing); the runner
skips the redelivered records up to it. A batch with the same range would replace its files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from streams.sinks.base import PartitionBatch
from streams.sinks.exceptions import SinkConfigurationError
from streams.sinks.tables import Table, arrow_schema

__all__ = ["ParquetWriter", "parse_file_name"]

log = logging.getLogger(__name__)
_NAME = re.compile(
    r"^(?P<topic>.+)-(?P<partition>\d+)-(?P<first>\d{20})-(?P<last>\d{20})\.parquet$"
)
_TEMP_SUFFIX = ".tmp"
_JOURNAL_GLOB = ".batch-*.journal"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class FileRange:
    """What a data file's name says: which offsets of which topic-partition it holds."""

    path: Path
    topic: str
    partition: int
    first: int
    last: int


def parse_file_name(path: Path) -> FileRange | None:
    match = _NAME.match(path.name)
    if match is None:
        return None
    return FileRange(path, match["topic"], int(match["partition"]),
                     int(match["first"]), int(match["last"]))  # fmt: skip


def _file_name(batch: PartitionBatch) -> str:
    return f"{batch.topic}-{batch.partition}-{batch.first:020d}-{batch.last:020d}.parquet"


def _date(event_time_us: int) -> str:
    return (_EPOCH + dt.timedelta(microseconds=event_time_us)).date().isoformat()


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class ParquetWriter:
    """Write batches under one root directory (see the module docstring for the layout)."""

    name = "parquet"

    def __init__(self, root: Path, *, compression: str = "zstd") -> None:
        if root.exists() and not root.is_dir():
            raise SinkConfigurationError(f"parquet sink path {root} is not a directory")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self._compression = compression
        self._schemas: dict[str, pa.Schema] = {}
        self.roll_forward()

    # -- recovery -------------------------------------------------------------------------------
    def files(self, table: Table) -> Iterator[FileRange]:
        """Every complete data file of a table."""
        for path in sorted((self.root / table.name).glob("exchange=*/symbol=*/date=*/*.parquet")):
            parsed = parse_file_name(path)
            if parsed is not None:
                yield parsed

    def recover(self, table: Table, topic: str, partition: int, start_offset: int) -> int:
        """Finish or discard what a crash left, and return the last offset already on disk.

        Nothing visible is removed: files past the committed offset hold whole batches, so
        their records count as written and the runner skips them when they come again.
        """
        self.roll_forward()
        durable_through = start_offset - 1
        pattern = f"exchange=*/symbol=*/date=*/.{topic}-{partition}-*{_TEMP_SUFFIX}"
        for temp in (self.root / table.name).glob(pattern):
            parsed = parse_file_name(temp.with_name(temp.name[1 : -len(_TEMP_SUFFIX)]))
            if parsed is not None and (parsed.topic, parsed.partition) == (topic, partition):
                temp.unlink(missing_ok=True)  # a batch that never reached its journal
        for file in self.files(table):
            if (file.topic, file.partition) == (topic, partition) and file.last >= start_offset:
                durable_through = max(durable_through, file.last)  # written, not committed
        return durable_through

    def roll_forward(self) -> None:
        """Complete the renames of every batch whose journal a crash left behind."""
        for leftover in self.root.glob(f"{_JOURNAL_GLOB}{_TEMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)  # a journal never completed: its batch never began
        for journal in sorted(self.root.glob(_JOURNAL_GLOB)):
            try:
                renames = [
                    (self.root / t, self.root / f) for t, f in json.loads(journal.read_text())
                ]
            except FileNotFoundError:
                continue  # another writer of this lake completed it meanwhile
            log.info("completing the batch of %s (%d files)", journal.name, len(renames))
            self._apply(journal, renames)

    # -- writing --------------------------------------------------------------------------------
    def _stage(self, journal: Path, renames: list[tuple[Path, Path]]) -> None:
        """Make the batch's renames durable intent: from here on a crash is rolled forward."""
        entries = [
            [str(t.relative_to(self.root)), str(f.relative_to(self.root))] for t, f in renames
        ]
        temp = journal.with_name(journal.name + _TEMP_SUFFIX)
        with temp.open("w") as file:
            json.dump(entries, file)
            file.flush()
            os.fsync(file.fileno())
        temp.replace(journal)
        _fsync_directory(self.root)

    def _apply(self, journal: Path, renames: list[tuple[Path, Path]]) -> None:
        for temp, final in renames:
            # absent: renamed before a crash, or by another writer of the lake completing this
            # journal (`roll_forward`) at the same moment
            with contextlib.suppress(FileNotFoundError):
                temp.replace(final)
        for directory in sorted({final.parent for _, final in renames}):
            _fsync_directory(directory)
        journal.unlink(missing_ok=True)
        _fsync_directory(self.root)

    def write(self, batches: Sequence[PartitionBatch]) -> None:
        """Write the batches as one: every file under a temp name, then the journal, renames."""
        renames: list[tuple[Path, Path]] = []
        for batch in batches:
            groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
            seen: set[str] = set()
            for row in batch.rows:
                identifier = row[batch.table.id_field]
                if identifier in seen:
                    continue  # the same record twice in one batch (an upstream redelivery)
                seen.add(identifier)
                key = (row["exchange"], row["symbol"], _date(row["event_time"]))
                groups.setdefault(key, []).append(row)
            for (exchange, symbol, date), rows in sorted(groups.items()):
                directory = (
                    self.root / batch.table.name / f"exchange={quote(exchange, safe='')}"
                    / f"symbol={quote(symbol, safe='')}" / f"date={date}"
                )  # fmt: skip
                temp = self._write_file(
                    directory, _file_name(batch), self._table(batch.table, rows)
                )
                renames.append((temp, directory / _file_name(batch)))
        if renames:
            journal = self.root / f".batch-{uuid.uuid4().hex}.journal"
            self._stage(journal, renames)
            self._apply(journal, renames)

    def _table(self, table: Table, rows: list[dict[str, Any]]) -> pa.Table:
        schema = self._schemas.get(table.name)
        if schema is None:
            schema = self._schemas[table.name] = arrow_schema(table)
        return pa.Table.from_pylist(rows, schema=schema)

    def _write_file(self, directory: Path, name: str, data: pa.Table) -> Path:
        """Write one file of a batch under its hidden temp name, durably; return that name."""
        created = self._make_directories(directory)
        temp = directory / f".{name}{_TEMP_SUFFIX}"
        with temp.open("wb") as file:
            pq.write_table(data, file, compression=self._compression)
            file.flush()
            os.fsync(file.fileno())
        _fsync_directory(directory)
        for parent in created:
            _fsync_directory(parent)
        return temp

    def _make_directories(self, directory: Path) -> list[Path]:
        """Create missing directories; return the parents whose entries changed (to fsync)."""
        missing = []
        current = directory
        while not current.exists():
            missing.append(current)
            current = current.parent
        directory.mkdir(parents=True, exist_ok=True)
        return [path.parent for path in missing]

    def close(self) -> None:
        return None
