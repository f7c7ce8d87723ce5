"""Fixtures of the reliability tests: the session broker's topics, and a broker a test owns.

A test that stops the broker must not stop the one every other test shares, so `own_broker`
starts a second local KRaft broker (its own state directory) that `LocalBroker.restart` brings
back on the same ports with the same data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.broker import LocalBroker
from streams.config import Settings, Topics
from streams.transport import create_topics, topic_specs
from tests.sinks.conftest import run_sink, sink_settings  # noqa: F401  (fixtures reused here)

SEED = int(os.environ.get("STREAMS_TEST_RELIABILITY_SEED", "20240611"))


@pytest.fixture
def seed() -> int:
    """One seed for every random choice of a test (set STREAMS_TEST_RELIABILITY_SEED to vary it)."""
    return SEED


@pytest.fixture
def topics_ready(kafka_settings: Settings) -> Settings:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=3))
    return kafka_settings


@dataclass
class OwnBroker:
    broker: LocalBroker
    settings: Settings


@pytest.fixture
def own_broker(
    tmp_path_factory: pytest.TempPathFactory, topics_factory: Callable[[], Topics]
) -> Iterator[OwnBroker]:
    """A broker of this test alone, to stop and restart; topics created with 3 partitions.

    Always the project's local broker, also when KAFKA_BOOTSTRAP_SERVERS names a cluster:
    an external cluster cannot be restarted from a test.
    """
    home = Settings.from_environment().home
    broker = LocalBroker(home, state_dir=Path(tmp_path_factory.mktemp("own-kafka")))
    state = broker.start(heap_mb=384)
    settings = Settings(
        bootstrap_servers=state.bootstrap_servers,
        schema_registry_url=f"mock://{uuid.uuid4().hex[:8]}",
        topics=topics_factory(),
    )
    create_topics(settings, topic_specs(settings.topics, partitions=3))
    try:
        yield OwnBroker(broker, settings)
    finally:
        broker.stop()
