"""Replay speed against real time: `streams replay` over a one-hour-equivalent `book-deltas` topic.

Run: `.venv/bin/python bench/bench_replay.py`. Starts a throwaway local broker (or uses
KAFKA_BOOTSTRAP_SERVERS), publishes the Bybit v5 recording repeated and time-shifted until it
covers one hour of event time, replays the whole range with `streams.audit.replay.replay` (Kafka
consume + Avro decode + the core) and rewrites the `bench_replay` section of docs/benchmarks.md.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import tagged_topics  # noqa: E402  (bench/ is on sys.path as the script dir)
from sections import replace_section  # noqa: E402

from streams.audit.replay import ReplayRequest, replay  # noqa: E402
from streams.broker import configured_or_local  # noqa: E402
from streams.codec import TopicCodecs  # noqa: E402
from streams.config import Settings, shared_recordings  # noqa: E402
from streams.sources.raw import read_raw  # noqa: E402
from streams.transport import DeltaPublisher, create_topics, topic_specs  # noqa: E402

DOCUMENT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_replay:start -->", "<!-- bench_replay:end -->"
RECORDING = shared_recordings() / "BYBIT.jsonl.zst"
HOUR_US = 3_600_000_000


def one_hour(settings: Settings) -> tuple[int, int]:
    """Publish the recording shifted in time until it spans an hour; return (messages, span µs)."""
    deltas = [d for d, _ in read_raw(None, RECORDING)]
    first, last = deltas[0].event_time, max(d.event_time for d in deltas)
    period = last - first + 1_000_000
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings))
    count, shift = 0, 0
    while shift < HOUR_US:
        for delta in deltas:
            publisher.publish(dataclasses.replace(
                delta, event_time=delta.event_time + shift, receive_time=delta.receive_time + shift
            ))  # fmt: skip
            count += 1
        shift += period
    publisher.flush()
    return count, shift


def main() -> int:
    state_dir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    with configured_or_local(Settings.from_environment(), state_dir) as settings:
        topics = tagged_topics(f"bench-replay-{uuid.uuid4().hex[:8]}")
        settings = dataclasses.replace(settings, topics=topics)
        specs = [dataclasses.replace(s, config={**s.config, "retention.ms": "-1"})
                 for s in topic_specs(topics, partitions=4)]  # fmt: skip
        create_topics(settings, specs)
        messages, span_us = one_hour(settings)
        started = time.perf_counter()
        result = replay(settings, ReplayRequest(start_us=0, end_us=2**62))
        seconds = time.perf_counter() - started
    speedup = span_us / 1e6 / seconds
    section = (
        f"{START}\n## Replay against real time (`bench/bench_replay.py`)\n\n"
        f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, {platform.machine()}, "
        f"2 cores shared with the broker. Input: the Bybit v5 recording repeated and time-shifted "
        f"to {span_us / 3.6e9:.2f} h of event time, {messages:,} messages on 4 partitions. "
        f"`streams replay` of the whole range (consume, Avro decode, book, metrics, breaker; every "
        f"partition from its start).\n\n"
        f"| messages | imbalance records | suggestions | replay s | messages/s | x real time |\n"
        f"|---:|---:|---:|---:|---:|---:|\n"
        f"| {messages:,} | {len(result.imbalance):,} | {len(result.suggestions):,} | "
        f"{seconds:.1f} | {messages / seconds:,.0f} | {speedup:,.0f}x |\n\n"
        f"Target: >= 10x real time.\n{END}"
    )
    replace_section(DOCUMENT, "bench_replay", section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
