"""The live view's Kafka thread on the real broker: backfill, bad records, topics that come late."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.dashboard.config import DashboardConfig
from streams.dashboard.feed import TopicFeed
from streams.dashboard.window import DashboardState
from streams.transport import KafkaOutputSink, create_topics, topic_specs
from tests.dashboard.records import STRESS_INSTRUMENT, stress_outputs
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.integration

WAIT_S = 60.0  # an upper bound for a slow machine, never a speed claim


def wait_for(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, WAIT_S, what, interval_s=0.02)


def imbalance_records(count: int) -> list[dict[str, object]]:
    return [o.record for o in stress_outputs() if o.kind == "imbalance"][:count]


def test_the_feed_backfills_the_tail_skips_bad_records_and_names_them(
    kafka_settings: Settings,
) -> None:
    settings = kafka_settings
    create_topics(settings, topic_specs(settings.topics, partitions=1))
    codecs = TopicCodecs.register(settings)
    sink = KafkaOutputSink(settings)
    records = imbalance_records(60)
    key = STRESS_INSTRUMENT.encode()
    for record in records[:50]:  # before the dashboard starts: only the last 10 are shown
        sink.produce(settings.topics.imbalance, key, codecs.imbalance.encode(record))
    sink.flush()
    state = DashboardState(DashboardConfig())
    feed = TopicFeed(settings, state, codecs, backfill=10)
    feed.start()
    try:
        wait_for(lambda: state.counters["imbalance"] == 10, "the backfill")
        sink.produce(settings.topics.imbalance, key, b"\x00\x00\x00")  # offset 50: not Avro
        for record in records[50:]:
            sink.produce(settings.topics.imbalance, key, codecs.imbalance.encode(record))
        sink.produce(settings.topics.suggestions, key, codecs.suggestion.encode(
            next(o.record for o in stress_outputs() if o.kind == "suggestion")))  # fmt: skip
        sink.flush()
        wait_for(lambda: state.counters["imbalance"] == 20 and state.counters["suggestions"] == 1,
                 "the records after the bad one")  # fmt: skip
    finally:
        feed.stop()

    snapshot = state.snapshot()
    window = snapshot["instruments"][STRESS_INSTRUMENT]
    assert window["latest"]["source_offset"] == records[-1]["source_offset"]
    assert window["state"] == "WATCH"
    assert snapshot["status"]["errors"] == 1
    assert snapshot["status"]["last_error"].startswith(f"{settings.topics.imbalance}[0]@50: ")


def test_the_feed_waits_for_topics_that_do_not_exist_yet(kafka_settings: Settings) -> None:
    settings = kafka_settings
    codecs = TopicCodecs.register(settings)
    state = DashboardState(DashboardConfig())
    feed = TopicFeed(settings, state, codecs, backfill=100)
    feed.start()
    try:
        wait_for(lambda: state.feed.startswith("waiting for topic"), "the feed to wait")
        create_topics(settings, topic_specs(settings.topics, partitions=2))
        sink = KafkaOutputSink(settings)
        for record in imbalance_records(5):
            sink.produce(settings.topics.imbalance, STRESS_INSTRUMENT.encode(),
                         codecs.imbalance.encode(record))  # fmt: skip
        sink.flush()
        wait_for(lambda: state.counters["imbalance"] == 5, "the records once the topics exist")
    finally:
        feed.stop()

    assert state.feed == "reading 4 partitions"
    assert state.counters["errors"] == 0
