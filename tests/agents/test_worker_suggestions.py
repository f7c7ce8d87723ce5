"""The worker's circuit-breaker suggestions equal `streams compute --suggestions` on the same input
(a simulated flash crash written as a tardis CSV by `streams simulate`), through the real broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.transport import create_topics, topic_specs
from tests.fixtures.workers import OutputCollector, WorkerFactory, settings_environment

pytestmark = pytest.mark.integration

IDENTITY = ("suggestion_id", "source_topic", "source_partition", "source_offset")


def _cli(settings: Settings | None, *args: str) -> None:
    env = settings_environment(settings) if settings else None
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def _comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Suggestions in event order without their input coordinates (a file has no offsets)."""
    stripped = [{k: v for k, v in r.items() if k not in IDENTITY} for r in records]
    return sorted(
        stripped, key=lambda r: (r["exchange"], r["symbol"], r["event_time"], r["action"])
    )


def test_worker_suggestions_equal_the_offline_command(
    kafka_settings: Settings, worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=3))
    source = tmp_path / "flash_crash.csv"
    _cli(None, "simulate", "flash_crash", "--seed", "4", "--output", str(source))
    offline = tmp_path / "suggestions.jsonl"
    _cli(None, "compute", "--source", f"tardis:{source}", "--output", str(tmp_path / "i.jsonl"),
         "--suggestions", str(offline))  # fmt: skip
    expected = [json.loads(line) for line in offline.read_text().splitlines()]
    assert {r["action"] for r in expected} >= {"HALT"}

    _cli(kafka_settings, "publish", "--source", f"tardis:{source}")
    codecs = TopicCodecs.register(kafka_settings)
    collector = OutputCollector(
        kafka_settings, kafka_settings.topics.suggestions, codecs.suggestion, "suggestion_id"
    )
    worker = worker_factory()
    collector.wait_for(len(expected), 240, alive=lambda: worker.process.poll() is None)
    collector.poll(2)
    assert collector.conflicts == []
    assert _comparable(list(collector.records.values())) == _comparable(expected)
