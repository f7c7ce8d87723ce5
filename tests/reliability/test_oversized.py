"""A book delta too large for a Kafka message (1 MB) does not stop the
publisher: it is dead-lettered with its key and a MSG_SIZE_TOO_LARGE reason, and the deltas
after it are published."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.types import BookDelta
from streams.transport import DeltaPublisher, create_topics, read_topic, topic_specs

pytestmark = pytest.mark.integration

T0 = 1_600_000_000_000_000
GOOD = BookDelta("TEST", "BTC-USD", "BTCUSD", T0, T0, True, (100.0,), (1.0,), (101.0,), (1.0,))


def _huge(levels: int, seed: int) -> BookDelta:
    rng = random.Random(seed)  # random digits: lz4 cannot shrink them under the limit
    bids = tuple(sorted((rng.uniform(1.0, 100.0) for _ in range(levels)), reverse=True))
    asks = tuple(sorted(rng.uniform(101.0, 200.0) for _ in range(levels)))
    sizes = tuple(rng.uniform(0.1, 9.0) for _ in range(levels))
    return replace(GOOD, bid_prices=bids, bid_sizes=sizes, ask_prices=asks, ask_sizes=sizes)


def test_an_oversized_delta_is_dead_lettered_and_publishing_goes_on(
    kafka_settings: Settings, seed: int
) -> None:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=1))
    publisher = DeltaPublisher(kafka_settings, TopicCodecs.register(kafka_settings))
    after = replace(GOOD, is_snapshot=False, event_time=T0 + 1)

    assert publisher.publish_many([GOOD, _huge(100_000, seed), after]) == 3
    publisher.flush()

    assert publisher.oversized == 1
    published = list(read_topic(kafka_settings, kafka_settings.topics.book_deltas))
    assert len(published) == 2
    dead = list(read_topic(kafka_settings, kafka_settings.topics.dead_letter))
    assert len(dead) == 1
    assert dead[0].key() == GOOD.instrument.encode()
    assert dict(dead[0].headers() or [])["reason"].startswith(b"MSG_SIZE_TOO_LARGE")
