"""Parquet sink: the documented layout, atomic offset-named files, crash recovery, DuckDB reads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.sinks.base import PartitionBatch
from streams.sinks.parquet import ParquetWriter, parse_file_name
from streams.sinks.tables import IMBALANCE, SUGGESTIONS, arrow_schema
from tests.fixtures.waiting import wait_until
from tests.sinks.conftest import ParquetTarget, RunningSink
from tests.sinks.records import make_records, produce


class SimulatedCrash(BaseException):
    """The process dying half-way through a batch."""


class DiesAfterFiles(ParquetWriter):
    """The real writer, dying after `files` complete files: a batch left half-written."""

    def __init__(self, root: Path, files: int) -> None:
        super().__init__(root)
        self._files_left = files

    def _write_file(self, directory: Path, name: str, data: pa.Table) -> Path:
        if self._files_left == 0:
            raise SimulatedCrash
        self._files_left -= 1
        return super()._write_file(directory, name, data)


class DiesAfterRenames(ParquetWriter):
    """The real writer, dying after `renames` of a batch's renames (its journal written)."""

    def __init__(self, root: Path, renames: int) -> None:
        super().__init__(root)
        self._renames = renames

    def _apply(self, journal: Path, renames: list[tuple[Path, Path]]) -> None:
        for temp, final in renames[: self._renames]:
            temp.replace(final)
        raise SimulatedCrash


def _hidden(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file()]


def _batch(first: int, last: int, partition: int = 0) -> PartitionBatch:
    rows = make_records(IMBALANCE, first, last + 1)
    return PartitionBatch(IMBALANCE, "imbalance", partition, first, last, rows)


def test_layout_is_hive_partitioned_by_exchange_symbol_and_date(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path)

    writer.write([_batch(0, 99)])

    files = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert Path("imbalance/exchange=KRAKEN/symbol=XBT%2FUSD/date=2021-10-12") in {
        path.parent for path in files
    }
    assert {path.parent.parent.parent.parent for path in files} == {Path("imbalance")}
    assert {path.parent.name for path in files} == {"date=2021-10-12", "date=2021-10-13"}
    assert {path.name for path in files} == {
        "imbalance-0-00000000000000000000-00000000000000000099.parquet"
    }
    assert len(files) == 4 * 2  # four instruments, two dates, no temp files left
    schema = pq.read_schema(tmp_path / files[0])
    assert schema.names == arrow_schema(IMBALANCE).names
    assert "exchange" not in schema.names  # it is the directory


def test_duckdb_reads_the_dataset_with_partition_columns(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path)
    writer.write([_batch(0, 99), _batch(100, 199, partition=1)])
    pattern = str(tmp_path / "imbalance" / "**" / "*.parquet")

    rows = duckdb.sql(
        f"SELECT exchange, symbol, count(*), count(DISTINCT record_id), min(date) "  # noqa: S608
        f"FROM read_parquet('{pattern}', hive_partitioning = true) "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()

    assert [row[:4] for row in rows] == [
        ("BINANCE", "BTC-USDT", 50, 50),
        ("BINANCE", "ETH-USDT", 50, 50),
        ("KRAKEN", "XBT/USD", 50, 50),
        ("OKX", "BTC-USDT-SWAP", 50, 50),
    ]
    assert str(rows[0][4]) == "2021-10-12"


def test_writing_the_same_range_again_replaces_its_files(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path)

    writer.write([_batch(0, 49)])
    writer.write([_batch(0, 49)])

    target = ParquetTarget(tmp_path)
    assert len(target.rows(IMBALANCE)) == 50


def test_recover_removes_no_visible_file_and_reports_the_last_offset_on_disk(
    tmp_path: Path,
) -> None:
    writer = ParquetWriter(tmp_path)
    writer.write([_batch(0, 49), _batch(50, 99), _batch(100, 149), _batch(0, 9, partition=1)])
    before = {(f.partition, f.first, f.last) for f in writer.files(IMBALANCE)}

    durable_through = writer.recover(IMBALANCE, "imbalance", 0, start_offset=75)

    # a reader of the lake never sees a file vanish: whole batches past the committed offset
    # stay, and the runner skips their records when they are delivered again
    assert {(f.partition, f.first, f.last) for f in writer.files(IMBALANCE)} == before
    assert durable_through == 149
    assert writer.recover(IMBALANCE, "imbalance", 0, start_offset=150) == 149
    assert writer.recover(IMBALANCE, "imbalance", 1, start_offset=10) == 9


def test_a_batch_cut_before_its_journal_is_invisible_and_removed_on_recovery(
    tmp_path: Path,
) -> None:
    with pytest.raises(SimulatedCrash):
        DiesAfterFiles(tmp_path, files=3).write([_batch(0, 99)])
    assert _hidden(tmp_path)  # three complete files of the batch, under temp names
    assert ParquetTarget(tmp_path).rows(IMBALANCE) == []  # no reader sees part of a batch

    writer = ParquetWriter(tmp_path)
    assert writer.recover(IMBALANCE, "imbalance", 0, start_offset=0) == -1
    assert _hidden(tmp_path) == []


def test_a_batch_cut_during_its_renames_is_completed_by_the_next_writer(tmp_path: Path) -> None:
    with pytest.raises(SimulatedCrash):
        DiesAfterRenames(tmp_path, renames=2).write([_batch(0, 99)])

    writer = ParquetWriter(tmp_path)  # rolls the journal forward

    assert _hidden(tmp_path) == []
    ids = sorted(row["record_id"] for row in ParquetTarget(tmp_path).rows(IMBALANCE))
    assert ids == sorted(row["record_id"] for row in make_records(IMBALANCE, 0, 100))
    assert writer.recover(IMBALANCE, "imbalance", 0, start_offset=0) == 99


def test_readers_of_the_lake_never_see_a_file_vanish_while_crashed_batches_are_recovered(
    tmp_path: Path,
) -> None:
    # What the sink test's reader, pyarrow datasets and DuckDB do: list the files, then open
    # each. Every way a batch is cut (before its journal, during its renames, a range written
    # again) runs beside readers listing and opening as fast as they can.
    root = tmp_path / "lake"
    ParquetWriter(root).write([_batch(0, 9)])
    errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal reads
        pattern = f"{root}/imbalance/**/*.parquet"
        connection = duckdb.connect()  # one per thread: a connection serves one call at a time
        while not stop.is_set():
            try:
                pads.dataset(root / "imbalance", format="parquet", partitioning="hive").to_table()
                connection.sql(f"SELECT count(*) FROM read_parquet('{pattern}')").fetchall()  # noqa: S608
                reads += 1
            except Exception as error:  # any of them is a file gone between list and open
                errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for first in range(10, 410, 40):
            for crashing in (DiesAfterFiles(root, files=3), DiesAfterRenames(root, renames=2)):
                with pytest.raises(SimulatedCrash):
                    crashing.write([_batch(first, first + 39)])
            writer = ParquetWriter(root)  # rolls the cut renames forward
            writer.recover(IMBALANCE, "imbalance", 0, start_offset=first)
            writer.write([_batch(first, first + 39)])  # the same range again: replaced
    finally:
        stop.set()
        for reader in readers:
            reader.join()

    assert errors == []
    assert reads > 0
    ids = sorted(row["record_id"] for row in ParquetTarget(root).rows(IMBALANCE))
    assert ids == sorted(row["record_id"] for row in make_records(IMBALANCE, 0, 410))


def test_parse_file_name_handles_topics_with_dashes_and_dots() -> None:
    parsed = parse_file_name(
        Path("t1.circuit-breaker-suggestions-12-" + "0" * 19 + "7-" + "0" * 18 + "42.parquet")
    )

    assert parsed is not None
    assert (parsed.topic, parsed.partition, parsed.first, parsed.last) == (
        "t1.circuit-breaker-suggestions", 12, 7, 42,
    )  # fmt: skip
    assert parse_file_name(Path(".imbalance-0-1-2.parquet.tmp")) is None


@pytest.mark.integration
def test_a_batch_left_half_written_by_a_crash_is_completed_without_duplicates(
    tmp_path: Path, sink_settings: Settings, codecs: TopicCodecs,
    run_sink: Callable[..., RunningSink], group_id: str,
) -> None:  # fmt: skip
    root = tmp_path / "lake"
    imbalance = make_records(IMBALANCE, 0, 300)
    suggestions = make_records(SUGGESTIONS, 0, 30)
    produce(sink_settings, IMBALANCE, imbalance, codecs)
    produce(sink_settings, SUGGESTIONS, suggestions, codecs)

    crashed = run_sink(DiesAfterFiles(root, files=5), group_id, batch_size=400)
    crashed.thread.join(timeout=120)
    # Which table the crash cuts depends on how the consumer mixed the two topics in its batch.
    left_by_crash = len(ParquetTarget(root).rows(IMBALANCE)) + len(
        ParquetTarget(root).rows(SUGGESTIONS)
    )
    restarted = run_sink(ParquetWriter(root), group_id, batch_size=64)
    target = ParquetTarget(root)
    wait_until(lambda: len(target.rows(IMBALANCE)) >= 300, 120, "every imbalance row")
    wait_until(lambda: len(target.rows(SUGGESTIONS)) >= 30, 120, "every suggestion")
    restarted.close()

    assert [type(error) for error in crashed.errors] == [SimulatedCrash]
    assert left_by_crash < 330  # the crash really cut a batch (invisible: none of it is read)
    ids = sorted(row["record_id"] for row in target.rows(IMBALANCE))
    assert ids == sorted(record["record_id"] for record in imbalance)
    assert sorted(r["suggestion_id"] for r in target.rows(SUGGESTIONS)) == sorted(
        record["suggestion_id"] for record in suggestions
    )
