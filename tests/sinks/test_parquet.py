"""Parquet sink: the documented layout, atomic offset-named files, crash recovery, DuckDB reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
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

    def _write_file(self, directory: Path, name: str, data: pa.Table) -> None:
        if self._files_left == 0:
            raise SimulatedCrash
        super()._write_file(directory, name, data)
        self._files_left -= 1


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


def test_recover_removes_uncommitted_files_and_reports_straddling_ones(tmp_path: Path) -> None:
    writer = ParquetWriter(tmp_path)
    writer.write([_batch(0, 49), _batch(50, 99), _batch(100, 149), _batch(0, 9, partition=1)])

    durable_through = writer.recover(IMBALANCE, "imbalance", 0, start_offset=75)

    remaining = {(f.partition, f.first, f.last) for f in writer.files(IMBALANCE)}
    assert remaining == {(0, 0, 49), (0, 50, 99), (1, 0, 9)}
    assert durable_through == 99  # records 75..99 are on disk already; the runner skips them
    assert writer.recover(IMBALANCE, "imbalance", 0, start_offset=100) == 99


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
    assert 0 < left_by_crash < 330  # the crash really left a batch half written
    ids = sorted(row["record_id"] for row in target.rows(IMBALANCE))
    assert ids == sorted(record["record_id"] for record in imbalance)
    assert sorted(r["suggestion_id"] for r in target.rows(SUGGESTIONS)) == sorted(
        record["suggestion_id"] for record in suggestions
    )
