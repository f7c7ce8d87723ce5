"""Soak: a steady replay while a supervisor SIGKILLs workers and the sink at random, crashes the
broker once, under CPU load; then the outputs must equal the core over the input topic.

Run: `.venv/bin/python bench/soak.py [--chaos-s 180] [--rate 150] [--seed 7]` (bounded: the chaos
phase, then at most `--settle-s` for the roles to catch up). Always its own local KRaft broker
(the supervisor restarts it). Roles are the real commands: two `streams worker` (one group) and
one `streams sink parquet`, each restarted 1-3 s after its SIGKILL; two busy-loop processes
burn CPU throughout. At the end every role gets SIGTERM (its exit code and stop time are
reported), and the lake is checked: every imbalance record and suggestion the core computes
from the input topic is there exactly once with the same value, none extra. Prints the counts
(docs/reliability.md quotes them) and exits 1 on any loss, duplicate or difference.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow.dataset as pads  # noqa: E402
from confluent_kafka import TopicPartition  # noqa: E402

from streams.broker import LocalBroker, free_port  # noqa: E402
from streams.codec import CodecError, TopicCodecs  # noqa: E402
from streams.config import Settings, Topics  # noqa: E402
from streams.core.exceptions import InvalidDeltaError  # noqa: E402
from streams.core.pipeline import Pipeline, record_id  # noqa: E402
from streams.core.types import SourcePosition  # noqa: E402
from streams.run import child_environment  # noqa: E402
from streams.sources.spec import open_source  # noqa: E402
from streams.transport import (  # noqa: E402
    DeltaPublisher,
    create_topics,
    make_consumer,
    read_topic,
    topic_specs,
)

RECORDINGS = Path(
    os.environ.get(
        "STREAMS_TEST_RECORDINGS", ROOT.parent / "shared" / "data" / "exchange-recordings"
    )
)
SOURCES = (f"raw:BYBIT:{RECORDINGS / 'BYBIT.jsonl.zst'}",
           f"raw:KRAKEN_FUTURES:{RECORDINGS / 'KRAKEN_FUTURES.ws.1.0'}")  # fmt: skip
APP_ID, SINK_GROUP = "soak-worker", "soak-sink"


class Role:
    """One role's command, its current process, and what happened to it."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.args, self.env, self.logs = name, args, env, logs
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.starts = 0

    def start(self) -> None:
        with (self.logs / f"{self.name}-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *self.args], env=self.env,
                stdout=log, stderr=subprocess.STDOUT, cwd=self.logs,
            )  # fmt: skip
        self.starts += 1

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM; the exit code and seconds to exit (None: still running after 60 s)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = None
        return code, time.monotonic() - started


def publish_steadily(settings: Settings, deltas: list[Any], rate: float, done: list[int]) -> None:
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings))
    began = time.monotonic()
    for index, delta in enumerate(deltas):
        ahead = index / rate - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)
        publisher.publish(delta)
    publisher.flush()
    done.append(publisher.delivered)


def committed_all(settings: Settings, group: str, topics: list[str]) -> bool:
    consumer = make_consumer(settings, f"soak-probe-{uuid.uuid4().hex[:6]}")
    probe = make_consumer(settings, group)
    try:
        for topic in topics:
            partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
            tps = [TopicPartition(topic, p) for p in partitions]
            ends = [consumer.get_watermark_offsets(tp, timeout=30)[1] for tp in tps]
            done = {tp.partition: tp.offset for tp in probe.committed(tps, timeout=30)}
            if any(end and done.get(p, -1) < end for p, end in zip(partitions, ends, strict=True)):
                return False
        return True
    finally:
        consumer.close()
        probe.close()


def offline(settings: Settings, codecs: TopicCodecs) -> tuple[dict[str, float], set[str]]:
    """The core over the input topic as stored: imbalance id -> value, and suggestion ids."""
    pipeline = Pipeline()
    imbalance, suggestions = {}, set()
    topic = settings.topics.book_deltas
    for message in read_topic(settings, topic, timeout_s=300):
        position = SourcePosition(topic, message.partition() or 0, message.offset() or 0)
        try:
            output = pipeline.process(
                codecs.decode_keyed_delta(message.key(), message.value()), position
            )
        except (CodecError, InvalidDeltaError):
            continue
        if output.imbalance is not None:
            imbalance[record_id(position)] = output.imbalance["queue_imbalance"]
        suggestions.update(s["suggestion_id"] for s in output.suggestions)
    return imbalance, suggestions


def lake(root: Path, table: str, columns: list[str]) -> list[dict[str, Any]]:
    if not (root / table).exists():
        return []
    data = pads.dataset(root / table, format="parquet", partitioning="hive")
    rows: list[dict[str, Any]] = data.to_table(columns=columns).to_pylist()
    return rows


def chaos(roles: list[Role], broker: LocalBroker, seconds: float, rng: random.Random) -> int:
    """SIGKILL a random role every 5-15 s and restart it 1-3 s later; crash the broker once."""
    deadline = time.monotonic() + seconds
    broker_at = time.monotonic() + seconds * rng.uniform(0.3, 0.6)
    restarts = 0
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(5, 15))
        if broker_at and time.monotonic() >= broker_at:
            print("  broker: SIGKILL and restart", flush=True)
            broker.restart(heap_mb=384, crash=True)
            broker_at, restarts = 0.0, restarts + 1
            continue
        victim = rng.choice(roles)
        print(f"  {victim.name}: SIGKILL", flush=True)
        victim.kill()
        time.sleep(rng.uniform(1, 3))
        victim.start()
    return restarts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chaos-s", type=float, default=180.0)
    parser.add_argument("--settle-s", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=150.0, help="deltas per second")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    deltas = [d for spec in SOURCES for d, _ in open_source(spec)]
    deltas = deltas[: int(args.rate * args.chaos_s * 0.9)]  # publishing ends inside the chaos
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    work = Path(tempfile.mkdtemp(prefix="streams-soak-"))
    # the publisher's client retries through the broker outage: its lines go to a file
    logging.basicConfig(filename=work / "soak.log", level=logging.INFO)
    broker = LocalBroker(Settings.from_environment().home, state_dir=work / "kafka")
    try:
        state = broker.start(heap_mb=384)
        tag = uuid.uuid4().hex[:8]
        topics = Topics(
            book_deltas=f"soak{tag}.book-deltas", imbalance=f"soak{tag}.imbalance",
            suggestions=f"soak{tag}.suggestions", dead_letter=f"soak{tag}.dead-letter",
        )  # fmt: skip
        settings = Settings(bootstrap_servers=state.bootstrap_servers, topics=topics,
                            schema_registry_url=f"mock://soak{tag}")  # fmt: skip
        create_topics(settings, topic_specs(topics, partitions=3))
        return soak(settings, broker, deltas, work, rng, args)
    finally:
        for burner in burners:
            burner.kill()
        broker.stop()
        print(f"work directory (logs, lake): {work}")


def soak(
    settings: Settings, broker: LocalBroker, deltas: list[Any], work: Path,
    rng: random.Random, args: argparse.Namespace,
) -> int:  # fmt: skip
    env = child_environment(settings)
    logs = work / "logs"
    logs.mkdir()
    lake_root = work / "lake"
    worker = ["worker", "--app-id", APP_ID, "--partitions", "3", "--checkpoint-every", "500"]
    roles = [
        Role(f"worker{i}", [*worker, "--web-port", str(free_port())], env, logs) for i in (1, 2)
    ]
    roles.append(Role("sink", ["sink", "parquet", "--path", str(lake_root), "--group-id",
                               SINK_GROUP], env, logs))  # fmt: skip
    for role in roles:
        role.start()
    published: list[int] = []
    publisher = threading.Thread(
        target=publish_steadily, args=(settings, deltas, args.rate, published), daemon=True
    )
    began = time.monotonic()
    publisher.start()
    print(f"soak: {len(deltas)} deltas at {args.rate:.0f}/s, chaos for {args.chaos_s:.0f} s")
    broker_restarts = chaos(roles, broker, args.chaos_s, rng)
    publisher.join(timeout=args.settle_s)
    topics = settings.topics
    deadline = time.monotonic() + args.settle_s
    while time.monotonic() < deadline and not (
        committed_all(settings, APP_ID, [topics.book_deltas])
        and committed_all(settings, SINK_GROUP, [topics.imbalance, topics.suggestions])
    ):
        time.sleep(2)
    settled_s = time.monotonic() - began
    stops = {role.name: role.terminate() for role in roles}
    return report(settings, lake_root, roles, stops, published, broker_restarts, settled_s)


def report(
    settings: Settings, root: Path, roles: list[Role], stops: dict[str, tuple[int | None, float]],
    published: list[int], broker_restarts: int, settled_s: float,
) -> int:  # fmt: skip
    codecs = TopicCodecs.register(settings)
    expected, suggestions = offline(settings, codecs)
    rows = lake(root, "imbalance", ["record_id", "queue_imbalance"])
    got = {row["record_id"]: row["queue_imbalance"] for row in rows}
    suggestion_rows = [r["suggestion_id"] for r in lake(root, "suggestions", ["suggestion_id"])]
    dead = sum(1 for _ in read_topic(settings, settings.topics.dead_letter, timeout_s=30))
    missing = len(expected.keys() - got.keys()) + len(suggestions - set(suggestion_rows))
    extra = len(got.keys() - expected.keys()) + len(set(suggestion_rows) - suggestions)
    duplicates = len(rows) - len(got) + len(suggestion_rows) - len(set(suggestion_rows))
    differ = sum(1 for key in expected.keys() & got.keys() if expected[key] != got[key])
    kills = ", ".join(f"{r.name} x{r.kills}" for r in roles)
    print(f"in: {published[0] if published else 'unfinished'} deltas published; "
          f"SIGKILLs: {kills}; broker crashes: {broker_restarts}")  # fmt: skip
    print(f"out: {len(got)} imbalance rows, {len(set(suggestion_rows))} suggestions "
          f"(expected {len(expected)}, {len(suggestions)}); dead letters: {dead}")  # fmt: skip
    print(f"missing: {missing}, extra: {extra}, duplicates in the lake: {duplicates}, "
          f"values differing: {differ}; settled after {settled_s:.0f} s")  # fmt: skip
    for name, (code, seconds) in stops.items():
        print(f"stop {name}: exit {code} after {seconds:.1f} s")
    clean_stops = all(code is not None for code, _ in stops.values())
    return 0 if not (missing or extra or duplicates or differ) and published and clean_stops else 1


if __name__ == "__main__":
    sys.exit(main())
