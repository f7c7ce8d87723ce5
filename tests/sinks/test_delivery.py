"""Both sinks on the real broker: rows and values survive, crashes neither lose nor duplicate,
malformed records go to the dead-letter topic. One suite over Parquet and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.sinks.base import BatchWriter, PartitionBatch
from streams.sinks.tables import IMBALANCE, SUGGESTIONS, Table
from streams.transport import read_topic
from tests.fixtures.waiting import wait_until
from tests.sinks.conftest import RunningSink, SinkProcess, SinkTarget
from tests.sinks.records import make_records, produce, produce_raw

pytestmark = pytest.mark.integration


class SimulatedCrash(BaseException):
    """Stands for the process dying: nothing in the runner catches it."""


class CrashAfterWrites:
    """A real writer that 'dies' right after its n-th durable write, before the commit."""

    def __init__(self, writer: BatchWriter, writes: int) -> None:
        self._writer = writer
        self._left = writes
        self.name = writer.name

    def recover(self, table: Table, topic: str, partition: int, start_offset: int) -> int:
        return self._writer.recover(table, topic, partition, start_offset)

    def write(self, batches: Sequence[PartitionBatch]) -> None:
        self._writer.write(batches)
        self._left -= 1
        if self._left == 0:
            raise SimulatedCrash

    def close(self) -> None:
        self._writer.close()


def _ids(target: SinkTarget, table: Table) -> Counter[str]:
    return Counter(row[table.id_field] for row in target.rows(table))


def _safe_count(target: SinkTarget, table: Table) -> int:
    try:
        return len(target.rows(table))
    except Exception:  # a reader racing a recovery that deletes uncommitted files: try again
        return -1


def _expect_exactly(target: SinkTarget, expected: dict[Table, list[dict[str, Any]]]) -> None:
    for table, records in expected.items():
        written = _ids(target, table)
        duplicates = {key: count for key, count in written.items() if count > 1}
        assert duplicates == {}, f"{table.name}: duplicated rows"
        assert set(written) == {record[table.id_field] for record in records}, table.name


def _produce_both(
    settings: Settings, codecs: TopicCodecs, start: int, stop: int, prefix: str = "r"
) -> dict[Table, list[dict[str, Any]]]:
    imbalance = make_records(IMBALANCE, start, stop, prefix)
    suggestions = make_records(SUGGESTIONS, start // 10, stop // 10, prefix)
    produce(settings, IMBALANCE, imbalance, codecs)
    produce(settings, SUGGESTIONS, suggestions, codecs)
    return {IMBALANCE: imbalance, SUGGESTIONS: suggestions}


def _all_written(target: SinkTarget, expected: dict[Table, list[dict[str, Any]]]) -> bool:
    return all(_safe_count(target, table) >= len(rows) for table, rows in expected.items())


def test_records_survive_with_every_value(
    target: SinkTarget, sink_settings: Settings, codecs: TopicCodecs,
    run_sink: Callable[..., RunningSink], group_id: str,
) -> None:  # fmt: skip
    expected = _produce_both(sink_settings, codecs, 0, 400)

    running = run_sink(target.writer(), group_id, batch_size=150)
    wait_until(lambda: _all_written(target, expected), 120, "every row")
    running.close()

    assert running.errors == []
    for table, records in expected.items():
        written = sorted(target.rows(table), key=lambda row: row[table.id_field])
        assert written == sorted(records, key=lambda row: row[table.id_field])
    assert running.runner.stats.rows_written == 400 + 40


def merge(*parts: dict[Table, list[dict[str, Any]]]) -> dict[Table, list[dict[str, Any]]]:
    merged: dict[Table, list[dict[str, Any]]] = {}
    for part in parts:
        for table, rows in part.items():
            merged.setdefault(table, []).extend(rows)
    return merged


def test_crash_between_durable_write_and_commit_duplicates_nothing(
    target: SinkTarget, sink_settings: Settings, codecs: TopicCodecs,
    run_sink: Callable[..., RunningSink], group_id: str,
) -> None:  # fmt: skip
    expected = _produce_both(sink_settings, codecs, 0, 500)

    crashing = run_sink(CrashAfterWrites(target.writer(), writes=3), group_id, batch_size=37)
    crashing.thread.join(timeout=120)
    written_before_restart = sum(_ids(target, table).total() for table in expected)
    # batches cut at other offsets this time: the rewrite must not depend on equal boundaries
    restarted = run_sink(target.writer(), group_id, batch_size=50)
    wait_until(lambda: _all_written(target, expected), 120, "every row after the restart")
    restarted.close()

    assert [type(error) for error in crashing.errors] == [SimulatedCrash]
    assert written_before_restart > 0
    assert restarted.errors == []
    _expect_exactly(target, expected)


def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(
    target: SinkTarget, sink_settings: Settings, codecs: TopicCodecs,
    sink_process: Callable[..., SinkProcess], group_id: str,
) -> None:  # fmt: skip
    first = _produce_both(sink_settings, codecs, 0, 4000)
    options = ("--batch-size", "100", "--batch-seconds", "0.2")

    sink = sink_process(target, group_id, *options)
    wait_until(lambda: _safe_count(target, IMBALANCE) > 0, 120, "the first rows")
    sink.kill()
    second = _produce_both(sink_settings, codecs, 4000, 6000)
    restarted = sink_process(target, group_id, *options)
    expected = merge(first, second)
    wait_until(lambda: _all_written(target, expected), 180, "every row after the restart")

    assert restarted.terminate() == 0, restarted.log()
    _expect_exactly(target, expected)


def test_malformed_values_go_to_the_dead_letter_topic_and_the_sink_keeps_going(
    target: SinkTarget, sink_settings: Settings, codecs: TopicCodecs,
    run_sink: Callable[..., RunningSink], group_id: str,
) -> None:  # fmt: skip
    good = make_records(IMBALANCE, 0, 30)
    bad = [b"not avro at all", bytes([0, 0, 0, 0, codecs.imbalance.schema_id]) + b"\x02truncated"]
    produce(sink_settings, IMBALANCE, good[:15], codecs)
    produce_raw(sink_settings, sink_settings.topics.imbalance, bad)
    produce(sink_settings, IMBALANCE, good[15:], codecs)

    running = run_sink(target.writer(), group_id, batch_size=10)
    wait_until(lambda: _safe_count(target, IMBALANCE) >= len(good), 120, "the good rows")
    running.close()

    _expect_exactly(target, {IMBALANCE: good})
    dead = list(read_topic(sink_settings, sink_settings.topics.dead_letter))
    assert sorted(message.value() for message in dead) == sorted(bad)
    for message in dead:
        headers = dict(message.headers() or [])
        assert headers["reason"].startswith(b"CodecError")
        assert headers["source.topic"] == sink_settings.topics.imbalance.encode()
    assert running.runner.stats.dead_letters == 2


def test_rows_no_sink_can_store_are_dead_lettered_with_a_reason(
    target: SinkTarget, sink_settings: Settings, codecs: TopicCodecs,
    run_sink: Callable[..., RunningSink], group_id: str,
) -> None:  # fmt: skip
    good = make_records(IMBALANCE, 0, 10)
    base = make_records(IMBALANCE, 100, 105, "bad")
    unstorable = [
        {**base[0], "event_time": 2**63 - 1},  # no date partition, no PostgreSQL timestamp
        {**base[1], "receive_time": -(2**63)},
        {**base[2], "symbol": "X\x00Y"},  # PostgreSQL text refuses NUL
        {**base[3], "exchange": "E" * 300},  # no directory name that long
        {**base[4], "symbol": ""},
    ]
    produce(sink_settings, IMBALANCE, good[:5], codecs)
    produce(sink_settings, IMBALANCE, unstorable, codecs)
    produce(sink_settings, IMBALANCE, good[5:], codecs)

    running = run_sink(target.writer(), group_id, batch_size=4)
    wait_until(lambda: _safe_count(target, IMBALANCE) >= len(good), 120, "the good rows")
    running.close()

    assert running.errors == []
    _expect_exactly(target, {IMBALANCE: good})
    dead = list(read_topic(sink_settings, sink_settings.topics.dead_letter))
    assert len(dead) == len(unstorable)
    reasons = sorted(dict(m.headers() or [])["reason"].decode() for m in dead)
    assert all("cannot be stored" in reason for reason in reasons), reasons


def test_timestamps_at_the_edges_are_stored_to_the_microsecond(
    target: SinkTarget, sink_settings: Settings, codecs: TopicCodecs,
    run_sink: Callable[..., RunningSink], group_id: str,
) -> None:  # fmt: skip
    """Past 2**53 µs (year 2255) a float8 product rounds: PostgreSQL's conversion must not."""
    from streams.core.types import MAX_TIME_US, MIN_TIME_US

    edges = [MIN_TIME_US, 1, 2**53 + 1, 2**53 + 3, 7_999_999_999_999_999, MAX_TIME_US]
    base = make_records(IMBALANCE, 0, len(edges), "edge")
    records = [
        {**record, "event_time": at, "receive_time": at}
        for record, at in zip(base, edges, strict=True)
    ]
    produce(sink_settings, IMBALANCE, records, codecs)

    running = run_sink(target.writer(), group_id, batch_size=100)
    wait_until(lambda: _safe_count(target, IMBALANCE) >= len(records), 120, "the edge rows")
    running.close()

    assert running.errors == []
    stored = {
        row["record_id"]: (row["event_time"], row["receive_time"]) for row in target.rows(IMBALANCE)
    }
    assert stored == {r["record_id"]: (r["event_time"], r["receive_time"]) for r in records}
