"""Sink targets (one suite runs over Parquet and PostgreSQL), runners in threads and processes."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.dataset as pads
import pytest
from psycopg.rows import dict_row

from streams.codec import TopicCodecs
from streams.config import Secret, Settings
from streams.sinks.base import BatchWriter
from streams.sinks.parquet import ParquetWriter
from streams.sinks.postgres import PostgresWriter
from streams.sinks.runner import SinkConfig, SinkRunner
from streams.sinks.tables import Table
from streams.transport import create_topics, topic_specs
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.workers import settings_environment

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


@dataclass
class ParquetTarget:
    root: Path
    kind: str = "parquet"

    def writer(self) -> BatchWriter:
        return ParquetWriter(self.root)

    def cli(self) -> tuple[list[str], dict[str, str]]:
        return ["parquet", "--path", str(self.root)], {}

    def rows(self, table: Table) -> list[dict[str, Any]]:
        """Every row of the table as the codec decodes it (duplicates kept)."""
        directory = self.root / table.name
        if not directory.exists():
            return []
        data = pads.dataset(directory, format="parquet", partitioning="hive").to_table()
        rows = []
        for row in data.to_pylist():
            row.pop("date")
            for name, value in row.items():
                if isinstance(value, dt.datetime):
                    row[name] = micros(value)
                elif name == "metrics":  # an Arrow map reads back as (key, value) pairs
                    row[name] = dict(value)
            rows.append(row)
        return rows


@dataclass
class PostgresTarget:
    dsn: str
    server: PostgresServer
    kind: str = "postgres"

    def writer(self) -> BatchWriter:
        return PostgresWriter(Secret(self.dsn))

    def cli(self) -> tuple[list[str], dict[str, str]]:
        return ["postgres"], {"POSTGRES_DSN": self.dsn}

    def rows(self, table: Table) -> list[dict[str, Any]]:
        with psycopg.connect(self.dsn, row_factory=dict_row) as connection:
            exists = connection.execute("SELECT to_regclass(%s) AS t", (table.name,)).fetchone()
            if exists is None or exists["t"] is None:
                return []
            rows = connection.execute(f"SELECT * FROM {table.name}").fetchall()  # noqa: S608
        for row in rows:
            for name, value in row.items():
                if isinstance(value, dt.datetime):
                    row[name] = micros(value)
        return rows


SinkTarget = ParquetTarget | PostgresTarget


@pytest.fixture(params=["parquet", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> SinkTarget:
    if request.param == "parquet":
        return ParquetTarget(tmp_path / "lake")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return PostgresTarget(request.getfixturevalue("postgres_dsn"), server)


@pytest.fixture
def sink_settings(kafka_settings: Settings) -> Settings:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=3))
    return kafka_settings


@pytest.fixture
def codecs(sink_settings: Settings) -> TopicCodecs:
    return TopicCodecs.register(sink_settings)


@dataclass
class RunningSink:
    runner: SinkRunner
    thread: threading.Thread
    stop: threading.Event
    errors: list[BaseException] = field(default_factory=list)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=120)
        assert not self.thread.is_alive(), "the sink did not stop"


@pytest.fixture
def run_sink(sink_settings: Settings) -> Iterator[Callable[..., RunningSink]]:
    """Start a SinkRunner in a thread; stopped (batch in hand written) at teardown."""
    started: list[RunningSink] = []

    def start(writer: BatchWriter, group_id: str, **options: Any) -> RunningSink:
        config = SinkConfig(group_id=group_id, **{"batch_seconds": 0.5, **options})
        runner = SinkRunner(sink_settings, TopicCodecs.register(sink_settings), writer, config)
        stop = threading.Event()
        running = RunningSink(runner, threading.Thread(target=lambda: None), stop)

        def body() -> None:
            try:
                runner.run(stop)
            except BaseException as error:  # surfaced by the test, not lost in the thread
                running.errors.append(error)

        running.thread = threading.Thread(target=body, daemon=True)
        running.thread.start()
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.close()


@dataclass
class SinkProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def sink_process(sink_settings: Settings, tmp_path: Path) -> Iterator[Callable[..., SinkProcess]]:
    """Start `streams sink ...` as a child process."""
    started: list[SinkProcess] = []

    def start(target: SinkTarget, group_id: str, *extra: str) -> SinkProcess:
        arguments, environment = target.cli()
        log_path = tmp_path / f"sink-{len(started)}.log"
        command = [sys.executable, "-m", "streams.cli", "sink", *arguments,
                   "--group-id", group_id, *extra]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, env={**settings_environment(sink_settings), **environment},
                stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
            )  # fmt: skip
        started.append(SinkProcess(process, log_path))
        return started[-1]

    yield start
    for sink in started:
        if sink.process.poll() is None:
            sink.kill()


@pytest.fixture
def group_id() -> str:
    return f"sink-{uuid.uuid4().hex[:8]}"
