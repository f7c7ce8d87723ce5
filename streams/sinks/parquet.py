"""Parquet sink: hive-partitioned files, written atomically, named by their Kafka offsets.

Layout (docs/sinks.md):

    ROOT/<table>/exchange=<EXCHANGE>/symbol=<SYMBOL>/date=<YYYY-MM-DD>/<topic>-<partition>-<first>-<last>.parquet

`first..last` (zero-padded) is the offset range of the batch of that topic-partition, so all files
of one batch share the name. A file appears complete or not at all (temp file, fsync, rename,
fsync of the directory). Exactly once per offset, across crashes: when a partition is assigned,
`recover` deletes its files whose range starts at or after the committed offset (written, then
the sink died before committing); the records are consumed again and written again, possibly
cut at other offsets. A batch with the same range would simply replace its files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
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

    # -- recovery -------------------------------------------------------------------------------
    def files(self, table: Table) -> Iterator[FileRange]:
        """Every complete data file of a table."""
        for path in sorted((self.root / table.name).glob("exchange=*/symbol=*/date=*/*.parquet")):
            parsed = parse_file_name(path)
            if parsed is not None:
                yield parsed

    def recover(self, table: Table, topic: str, partition: int, start_offset: int) -> int:
        durable_through = start_offset - 1
        touched: set[Path] = set()
        pattern = f"exchange=*/symbol=*/date=*/.{topic}-{partition}-*{_TEMP_SUFFIX}"
        for temp in (self.root / table.name).glob(pattern):
            parsed = parse_file_name(temp.with_name(temp.name[1 : -len(_TEMP_SUFFIX)]))
            if parsed is not None and (parsed.topic, parsed.partition) == (topic, partition):
                temp.unlink(missing_ok=True)  # a write that never finished
        for file in self.files(table):
            if file.topic != topic or file.partition != partition:
                continue
            if file.first >= start_offset:
                log.info("removing %s: written but never committed, it is written again",
                         file.path)  # fmt: skip
                file.path.unlink()
                touched.add(file.path.parent)
            elif file.last >= start_offset:
                durable_through = max(durable_through, file.last)  # committed elsewhere mid-file
        for directory in touched:
            _fsync_directory(directory)
        return durable_through

    # -- writing --------------------------------------------------------------------------------
    def write(self, batches: Sequence[PartitionBatch]) -> None:
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
                self._write_file(directory, _file_name(batch), self._table(batch.table, rows))

    def _table(self, table: Table, rows: list[dict[str, Any]]) -> pa.Table:
        schema = self._schemas.get(table.name)
        if schema is None:
            schema = self._schemas[table.name] = arrow_schema(table)
        return pa.Table.from_pylist(rows, schema=schema)

    def _write_file(self, directory: Path, name: str, data: pa.Table) -> None:
        created = self._make_directories(directory)
        temp = directory / f".{name}{_TEMP_SUFFIX}"
        with temp.open("wb") as file:
            pq.write_table(data, file, compression=self._compression)
            file.flush()
            os.fsync(file.fileno())
        temp.replace(directory / name)
        _fsync_directory(directory)
        for parent in created:
            _fsync_directory(parent)

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
