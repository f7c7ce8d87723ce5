"""`streams sink parquet|postgres`: build the writer, run the runner until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from streams.codec import TopicCodecs
from streams.config import Secret, Settings
from streams.operations import on_stop_signals
from streams.sinks.base import BatchWriter
from streams.sinks.exceptions import SinkConfigurationError
from streams.sinks.parquet import ParquetWriter
from streams.sinks.postgres import PostgresWriter
from streams.sinks.runner import SinkConfig, SinkRunner, SinkStats
from streams.transport import create_topics, topic_specs

__all__ = ["make_writer", "run_sink"]

log = logging.getLogger(__name__)


def make_writer(target: str, *, path: str | None = None, dsn: Secret | None = None) -> BatchWriter:
    if target == "parquet":
        if not path:
            raise SinkConfigurationError("streams sink parquet needs --path DIR")
        return ParquetWriter(Path(path))
    if target == "postgres":
        if dsn is None:
            raise SinkConfigurationError("streams sink postgres needs --dsn or POSTGRES_DSN")
        writer = PostgresWriter(dsn)
        log.info("PostgreSQL sink on %s", writer.redacted_dsn)
        return writer
    raise SinkConfigurationError(f"unknown sink {target!r} (parquet, postgres)")


def run_sink(
    settings: Settings,
    writer: BatchWriter,
    config: SinkConfig,
    started: Callable[[SinkRunner], None] | None = None,
) -> SinkStats:
    """Run until SIGTERM or SIGINT; the batch in hand is written and committed first.

    `started` gets the runner before it consumes (health pages).
    """
    dead_letter = [s for s in topic_specs(settings.topics) if s.name == settings.topics.dead_letter]
    create_topics(settings, dead_letter)
    stop = threading.Event()
    on_stop_signals("sink", stop.set)  # a stop stuck past the deadline exits 75
    runner = SinkRunner(settings, TopicCodecs.register(settings), writer, config)
    if started is not None:
        started(runner)
    try:
        stats = runner.run(stop)
    finally:
        writer.close()
    log.info("%s sink stopped: %s", writer.name, stats)
    return stats
