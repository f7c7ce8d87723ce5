"""What the benchmarks share: their input, their topics, and the processes they start and measure.

The benches are scripts (bench/ is on sys.path as the script directory); this is the one module
they import helpers from, so no bench is both a script and a library. The cluster is
`streams.broker.configured_or_local` (KAFKA_BOOTSTRAP_SERVERS or a local broker), not a copy.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
from pathlib import Path

from streams.codec import TopicCodecs
from streams.config import Settings, Topics, shared_recordings
from streams.core.types import BookDelta
from streams.sources.raw import read_raw
from streams.transport import TopicSpec, create_topics, make_producer

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = shared_recordings()
FILES = ("BYBIT.jsonl.zst", "KRAKEN.ws.50.0", "KRAKEN_FUTURES.ws.1.0", "BINANCE_DELIVERY.ws.1.0",
         "OKX.ws.1.0", "COINBASE.ws.28.0")  # fmt: skip
PARTITIONS = 4


# -- input --------------------------------------------------------------------------------------
def base_items() -> list[BookDelta]:
    """Every delta of the real recordings in FILES, in file order."""
    return [d for f in FILES for d, _ in read_raw(None, RECORDINGS / f)]


def scaled(base: list[BookDelta], copies: int, repeats: int) -> list[BookDelta]:
    """`copies` instruments per real one (symbol.N), the whole span repeated later in time."""
    span = max(d.event_time for d in base) - min(d.event_time for d in base) + 1_000_000
    return [
        dataclasses.replace(
            d, symbol=f"{d.symbol}.{c}", event_time=d.event_time + r * span,
            receive_time=d.receive_time + r * span,
        )
        for r in range(repeats)
        for d in base
        for c in range(copies)
    ]  # fmt: skip


def produce(settings: Settings, codecs: TopicCodecs, topic: str, deltas: list[BookDelta]) -> None:
    producer = make_producer(settings)
    for i, d in enumerate(deltas):
        producer.produce(topic, key=d.instrument.encode(), value=codecs.encode_delta(d))
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(120)


def tagged_topics(prefix: str) -> Topics:
    """The four topics of one run, named after `prefix`: one run sees only its own records."""
    return Topics(
        book_deltas=f"{prefix}-deltas", imbalance=f"{prefix}-imbalance",
        suggestions=f"{prefix}-suggestions", dead_letter=f"{prefix}-dead-letter",
    )  # fmt: skip


def fresh_topics(settings: Settings, prefix: str) -> Topics:
    """The tagged topics, created with PARTITIONS each."""
    topics = tagged_topics(prefix)
    names = (topics.book_deltas, topics.imbalance, topics.suggestions, topics.dead_letter)
    create_topics(settings, [TopicSpec(name, PARTITIONS, {}) for name in names])
    return topics


# -- processes ----------------------------------------------------------------------------------
def environment(settings: Settings, topics: Topics) -> dict[str, str]:
    """The environment of a `streams` child process on these topics of this cluster."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_bootstrap(),
        "SCHEMA_REGISTRY_URL": settings.schema_registry_url,
        "STREAMS_TOPIC_BOOK_DELTAS": topics.book_deltas,
        "STREAMS_TOPIC_IMBALANCE": topics.imbalance,
        "STREAMS_TOPIC_SUGGESTIONS": topics.suggestions,
        "STREAMS_TOPIC_DEAD_LETTER": topics.dead_letter,
        "PYTHONPATH": str(ROOT),
    }


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def process_tree(pid: int) -> list[int]:
    """The process and its live descendants (the worker's compute process among them)."""
    try:
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return []
    return [pid, *(p for child in children for p in process_tree(child))]


def alive(pid: int) -> bool:
    """Running or sleeping: neither gone nor a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def proc_cpu_s(pid: int) -> float:
    """CPU seconds of the whole process tree: a system that uses more processes pays for them."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def proc_peak_rss_mb(pid: int) -> float:
    """Sum of the tree's peak resident sets (an upper bound of the peak together)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM:"))
    return total
