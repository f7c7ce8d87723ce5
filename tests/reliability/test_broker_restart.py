"""The broker stops and comes back mid-stream: the publisher, the worker and the PostgreSQL sink
carry on by themselves, and the table ends up equal to a clean offline run (no row lost, none
duplicated). The broker is this test's own (`own_broker`), never the shared session broker."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from streams.codec import TopicCodecs
from streams.config import Secret, Settings
from streams.sinks.postgres import PostgresWriter
from streams.sinks.runner import SinkConfig, SinkRunner
from streams.sinks.tables import IMBALANCE, SUGGESTIONS
from streams.transport import make_consumer
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.waiting import wait_until
from tests.fixtures.workers import WorkerFactory, by_instrument, first_differences
from tests.reliability.conftest import OwnBroker
from tests.reliability.helpers import offline, produce_stream, recorded_deltas
from tests.sinks.conftest import PostgresTarget

pytestmark = pytest.mark.integration

WAIT_S = float(os.environ.get("STREAMS_TEST_RELIABILITY_WAIT_S", "240"))


def _diagnose(settings: Settings, runner: SinkRunner, rows: int, expected: int) -> str:
    """Where the records stopped: output topic ends, sink counters, table rows."""
    consumer = make_consumer(settings, "diagnose")
    try:
        ends = {}
        for topic in (settings.topics.book_deltas, settings.topics.imbalance):
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends[topic] = [
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in sorted(partitions)
            ]
    finally:
        consumer.close()
    return f"topic ends {ends}; sink {runner.stats}; {rows} of {expected} rows"


@pytest.mark.parametrize("crash", [False, True], ids=["clean-stop", "sigkill"])
def test_broker_restart_mid_stream_needs_no_manual_action(
    own_broker: OwnBroker, postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path,
    crash: bool,
) -> None:  # fmt: skip
    settings = own_broker.settings
    codecs = TopicCodecs.register(settings)
    deltas = list(recorded_deltas())
    expected = offline(deltas)
    target = PostgresTarget(postgres_dsn, postgres_server)
    third = len(deltas) // 3
    workers = WorkerFactory(settings, tmp_path)
    worker = workers("--batch-size", "200", "--checkpoint-every", "500")
    stop, errors = threading.Event(), []
    runner = SinkRunner(
        settings, codecs, PostgresWriter(Secret(postgres_dsn)),
        SinkConfig(group_id=f"sink-{uuid.uuid4().hex[:6]}", batch_size=500, batch_seconds=0.5,
                   retry_max_s=2.0),
    )  # fmt: skip

    def run_sink() -> None:
        try:
            runner.run(stop)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    sink = threading.Thread(target=run_sink, daemon=True)
    sink.start()
    try:
        produce_stream(settings, codecs, deltas[:third])
        wait_until(lambda: len(target.rows(IMBALANCE)) >= third // 2, 240, "rows before outage")

        rows_before_outage = len(target.rows(IMBALANCE))
        restart = threading.Thread(target=lambda: own_broker.broker.restart(crash=crash))
        restart.start()
        # published while the broker is going down and away: the producer buffers and retries
        produce_stream(settings, codecs, deltas[third : 2 * third])
        restart.join(timeout=180)
        produce_stream(settings, codecs, deltas[2 * third :])
        wait_until(
            lambda: len(target.rows(IMBALANCE)) >= len(expected.imbalance)
            and worker.process.poll() is None and not errors,
            WAIT_S, "every row after the restart",
        )  # fmt: skip
    except AssertionError:
        print(_diagnose(settings, runner, len(target.rows(IMBALANCE)), len(expected.imbalance)))
        raise
    finally:
        stop.set()
        sink.join(timeout=120)
        workers.stop_all()

    rows: list[dict[str, Any]] = target.rows(IMBALANCE)
    assert errors == []
    assert rows_before_outage < third  # the outage hit the stream in the middle
    assert len(rows) == len(expected.imbalance) > 9000
    assert first_differences(by_instrument(rows), by_instrument(expected.imbalance)) == []
    print(f"broker restart: {rows_before_outage} rows before the outage, {len(rows)} after")
    stored = sorted((s["exchange"], s["symbol"], s["event_time"], s["action"])
                    for s in target.rows(SUGGESTIONS))  # fmt: skip
    assert stored == sorted(
        (s["exchange"], s["symbol"], s["event_time"], s["action"]) for s in expected.suggestions
    )
