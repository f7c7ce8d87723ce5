"""A real recording through the Faust worker into both sinks: rows equal the offline output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.sinks.tables import IMBALANCE, SUGGESTIONS
from streams.sources.spec import open_source
from streams.transport import DeltaPublisher
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.waiting import wait_until
from tests.fixtures.workers import RECORDINGS, WorkerFactory, by_instrument, first_differences
from tests.sinks.conftest import ParquetTarget, PostgresTarget, RunningSink

pytestmark = pytest.mark.integration

RECORDING = RECORDINGS / "BYBIT.jsonl.zst"


def test_recording_through_worker_into_both_sinks_equals_offline_output(
    sink_settings: Settings, worker_factory: WorkerFactory, run_sink: Callable[..., RunningSink],
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path,
) -> None:  # fmt: skip
    pipeline = Pipeline()
    deltas, imbalance, suggestions = [], [], []
    for delta, position in open_source(f"raw:BYBIT:{RECORDING}"):
        deltas.append(delta)
        output = pipeline.process(delta, position)
        if output.imbalance is not None:
            imbalance.append(dict(output.imbalance))
        suggestions.extend(dict(s) for s in output.suggestions)
    publisher = DeltaPublisher(sink_settings, TopicCodecs.register(sink_settings))
    publisher.publish_many(deltas)
    publisher.flush()
    targets = [ParquetTarget(tmp_path / "lake"), PostgresTarget(postgres_dsn, postgres_server)]

    worker = worker_factory()
    for target in targets:
        run_sink(target.writer(), f"e2e-{target.kind}", batch_size=500)
    for target in targets:
        wait_until(
            lambda t=target: len(t.rows(IMBALANCE)) >= len(imbalance)
            and len(t.rows(SUGGESTIONS)) >= len(suggestions)
            and worker.process.poll() is None, 300, f"{target.kind} rows",
        )  # fmt: skip

    assert len(imbalance) > 1000
    for target in targets:
        rows: list[dict[str, Any]] = target.rows(IMBALANCE)
        assert len(rows) == len(imbalance), target.kind
        assert first_differences(by_instrument(rows), by_instrument(imbalance)) == [], target.kind
        stored = sorted((s["exchange"], s["symbol"], s["event_time"], s["action"])
                        for s in target.rows(SUGGESTIONS))  # fmt: skip
        assert stored == sorted(
            (s["exchange"], s["symbol"], s["event_time"], s["action"]) for s in suggestions
        ), target.kind
