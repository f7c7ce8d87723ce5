"""PostgreSQL sink on a real server: migrations, typed columns, outages, the documented query."""

from __future__ import annotations

import math
from collections.abc import Callable

import psycopg
import pytest

from streams.codec import TopicCodecs
from streams.config import Secret, Settings
from streams.sinks.base import PartitionBatch
from streams.sinks.migrations import MIGRATIONS, applied_versions, migrate
from streams.sinks.postgres import PostgresWriter, redact_dsn
from streams.sinks.tables import IMBALANCE, SUGGESTIONS, TABLES, pg_columns
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.waiting import wait_until
from tests.sinks.conftest import PostgresTarget, RunningSink
from tests.sinks.records import make_record, make_records, produce


def test_migrations_apply_once_and_match_the_avro_contracts(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        first = migrate(connection)
        second = migrate(connection)
        versions = applied_versions(connection)
        columns = {
            table.name: connection.execute(
                "SELECT attname, format_type(atttypid, atttypmod), NOT attnotnull"
                " FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                " AND NOT attisdropped ORDER BY attnum",
                (table.name,),
            ).fetchall()
            for table in TABLES
        }
        indexes = dict(connection.execute("SELECT indexname, indexdef FROM pg_indexes").fetchall())

    assert first == [m.version for m in MIGRATIONS]
    assert second == []
    assert versions == first
    for table in TABLES:
        derived = [(c.name, c.pg_type, c.nullable) for c in pg_columns(table)]
        assert columns[table.name] == derived, table.name
        assert (
            f"ON public.{table.name} USING btree (exchange, symbol, event_time)"
            in (indexes[f"{table.name}_instrument_time"])
        )


def test_writing_the_same_batch_twice_keeps_one_row_each(postgres_dsn: str) -> None:
    writer = PostgresWriter(Secret(postgres_dsn))
    rows = make_records(SUGGESTIONS, 0, 20)
    batch = PartitionBatch(SUGGESTIONS, "suggestions", 0, 0, 19, rows)

    writer.write([batch])
    writer.write([batch, PartitionBatch(SUGGESTIONS, "suggestions", 0, 5, 9, rows[5:10])])
    writer.close()

    with psycopg.connect(postgres_dsn) as connection:
        count = connection.execute(
            "SELECT count(*), count(DISTINCT suggestion_id) FROM suggestions"
        )
        assert count.fetchone() == (20, 20)


def test_non_finite_metrics_are_stored_as_strings_postgres_casts_back(postgres_dsn: str) -> None:
    record = make_record(SUGGESTIONS, 1)
    record["metrics"] = {"spread_bps": math.inf, "depth_z": math.nan, "ofi": None, "mid": 2.5}
    record["suggested_duration_s"] = math.nan
    writer = PostgresWriter(Secret(postgres_dsn))

    writer.write([PartitionBatch(SUGGESTIONS, "suggestions", 0, 0, 0, [record])])
    writer.close()

    with psycopg.connect(postgres_dsn) as connection:
        row = connection.execute(
            "SELECT (metrics->>'spread_bps')::float8, (metrics->>'depth_z')::float8,"
            " metrics->'ofi', (metrics->>'mid')::float8, suggested_duration_s FROM suggestions"
        ).fetchone()
    assert row is not None
    assert row[0] == math.inf
    assert math.isnan(row[1])
    assert row[2] is None
    assert row[3] == 2.5
    assert math.isnan(row[4])


def test_the_dsn_password_never_shows() -> None:
    dsn = "host=db.internal port=5432 user=sink password=hunter2 dbname=streams"
    writer = PostgresWriter(Secret(dsn), connect_timeout_s=1)

    assert "hunter2" not in redact_dsn(dsn)
    assert "hunter2" not in redact_dsn("postgresql://sink:hunter2@db.internal:5432/streams")
    assert "hunter2" not in writer.redacted_dsn
    assert "user=sink" in writer.redacted_dsn


@pytest.mark.integration
def test_an_outage_makes_the_sink_wait_and_retry_and_loses_nothing(
    postgres_server: PostgresServer, postgres_dsn: str, sink_settings: Settings,
    codecs: TopicCodecs, run_sink: Callable[..., RunningSink], group_id: str,
) -> None:  # fmt: skip
    if not postgres_server.controllable:
        pytest.skip("an external STREAMS_TEST_POSTGRES_DSN server cannot be stopped by the test")
    target = PostgresTarget(postgres_dsn, postgres_server)
    before = make_records(IMBALANCE, 0, 200)
    during = make_records(IMBALANCE, 200, 700)
    produce(sink_settings, IMBALANCE, before, codecs)
    running = run_sink(target.writer(), group_id, batch_size=100,
                       retry_initial_s=0.1, retry_max_s=0.5)  # fmt: skip
    wait_until(lambda: len(target.rows(IMBALANCE)) == len(before), 120, "rows before the outage")

    postgres_server.stop("immediate")  # a crash: recovery from the WAL on the next start
    try:
        produce(sink_settings, IMBALANCE, during, codecs)
        wait_until(lambda: running.runner.stats.retries >= 3, 120, "the sink to retry")
    finally:
        postgres_server.start()
    wait_until(lambda: len(target.rows(IMBALANCE)) >= 700, 120, "rows after the outage")
    running.close()

    ids = [row["record_id"] for row in target.rows(IMBALANCE)]
    assert sorted(ids) == sorted(r["record_id"] for r in before + during)
    assert running.errors == []


@pytest.mark.integration
def test_the_documented_query_finds_the_imbalance_when_a_halt_was_suggested(
    postgres_dsn: str,
) -> None:
    """docs/sinks.md: "the depth imbalance of BTC-USDT on Binance when the halt was suggested"."""
    imbalance = make_records(IMBALANCE, 0, 40)
    halt = make_record(SUGGESTIONS, 3)  # enum index 3 is HALT
    halt.update(exchange="BINANCE", symbol="BTC-USDT", event_time=imbalance[16]["event_time"] + 5)
    writer = PostgresWriter(Secret(postgres_dsn))
    writer.write([
        PartitionBatch(IMBALANCE, "imbalance", 0, 0, 39, imbalance),
        PartitionBatch(SUGGESTIONS, "suggestions", 0, 0, 0, [halt]),
    ])  # fmt: skip
    writer.close()

    with psycopg.connect(postgres_dsn) as connection:
        found = connection.execute(QUERY).fetchall()

    assert halt["action"] == "HALT"
    # imbalance[16] is the last BINANCE:BTC-USDT record at or before the halt (index % 4 == 0)
    assert found == [(imbalance[16]["record_id"], imbalance[16]["depth_imbalance_10"])]


QUERY = """
SELECT i.record_id, i.depth_imbalance_10
FROM suggestions s
CROSS JOIN LATERAL (
    SELECT record_id, depth_imbalance_10 FROM imbalance i
    WHERE i.exchange = s.exchange AND i.symbol = s.symbol AND i.event_time <= s.event_time
    ORDER BY i.event_time DESC LIMIT 1
) i
WHERE s.exchange = 'BINANCE' AND s.symbol = 'BTC-USDT' AND s.action = 'HALT'
"""
