"""Recovery after a crash: a worker SIGKILLed mid-stream, a fresh one with the same --app-id.

Run: `.venv/bin/python bench/bench_recovery.py` (or `make bench`). Uses KAFKA_BOOTSTRAP_SERVERS or
starts a real local KRaft broker (`streams.broker.LocalBroker`) and stops it at the end.

1. Builds one `book-deltas` topic of real recordings scaled to a few hundred instruments (the
   helpers of bench_compare), 4 partitions, and the record ids the outputs must have (the same
   core over the topic read back).
2. For each `--checkpoint-every`: worker A (`python -m streams.cli worker`) consumes; when half
   the imbalance records are in the output topic it is SIGKILLed (its compute child must die
   with it: checked). Worker B starts at once with the same --app-id. Milestones come from B's
   log lines and their own timestamps (joining the group, joined once A's session timed out,
   "partition ...[p] restored: ..."), from the output topic's high watermarks (B's first new
   record) and from every output record id, read as it arrives (caught up = all expected ids).
3. Fails loudly unless the distinct output record ids equal the expected ones (no loss, nothing
   extra); duplicates (at-least-once re-emits after the last commit) are counted.
Writes the `bench_recovery` section of docs/benchmarks.md.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402  (bench/ is on sys.path as the script dir)
    PARTITIONS,
    alive,
    base_items,
    environment,
    fresh_topics,
    process_tree,
    produce,
    scaled,
    stop,
)
from sections import replace_section  # noqa: E402

from streams.agents.app import WorkerConfig  # noqa: E402
from streams.broker import configured_or_local, free_port  # noqa: E402
from streams.codec import TopicCodecs  # noqa: E402
from streams.config import Settings, Topics  # noqa: E402
from streams.core.pipeline import Pipeline, record_id  # noqa: E402
from streams.core.types import SourcePosition  # noqa: E402
from streams.dead_letters import REJECTED  # noqa: E402
from streams.transport import read_topic  # noqa: E402

DOCUMENT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_recovery:start -->", "<!-- bench_recovery:end -->"
COPIES = int(os.environ.get("BENCH_RECOVERY_COPIES", 4))  # instruments x COPIES, one repeat
SETTINGS = tuple(
    int(n) for n in os.environ.get("BENCH_RECOVERY_CHECKPOINTS", "5000,20000,50000").split(",")
)
KILL_AT = 0.5  # share of the expected outputs written when A is killed
SESSION_TIMEOUT_S = WorkerConfig().session_timeout_s  # what the CLI worker runs with
POLL_S = 0.05
STALL_S = 60.0  # no new output for this long: the bench fails
RESTORED = re.compile(
    r"partition \S+\[(\d+)\] restored: (\d+) instruments from checkpoints, "
    r"(\d+) records re-applied, resuming at (\d+)"
)


# -- input and the expected outputs -------------------------------------------------------------
def expected_ids(settings: Settings, codecs: TopicCodecs, topic: str) -> set[str]:
    """Record ids of the imbalance records the worker must write: the core over the topic."""
    pipeline = Pipeline()
    ids = set()
    for message in read_topic(settings, topic, timeout_s=300):
        position = SourcePosition(topic, message.partition() or 0, message.offset() or 0)
        try:
            delta = codecs.decode_keyed_delta(message.key(), message.value())
            output = pipeline.process(delta, position)
        except REJECTED:
            continue  # the worker dead-letters it
        if output.imbalance is not None:
            ids.add(record_id(position))
    return ids


def output_record_id(value: bytes) -> str:
    """The first field of an imbalance record (an Avro string after the 5-byte wire header)."""
    index, shift, number = 5, 0, 0
    while True:
        byte = value[index]
        index += 1
        number |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    length = (number >> 1) ^ -(number & 1)
    return value[index : index + length].decode()


# -- watching one run ---------------------------------------------------------------------------
class Watch:
    """Every output record id read so far, and the output topic's size."""

    def __init__(self, settings: Settings, topics: Topics) -> None:
        bootstrap = settings.require_bootstrap()
        self.topic = topics.imbalance
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": f"bench-recovery-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        })  # fmt: skip
        self.consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)]
        )
        self.ids: set[str] = set()
        self.records = 0
        self.last_written = 0

    def read(self) -> None:
        for message in self.consumer.consume(num_messages=5000, timeout=POLL_S):
            if message.error() is None:
                self.ids.add(output_record_id(message.value()))
                self.records += 1

    def written(self) -> int:
        """Records in the output topic (the last answer while a fresh topic has no leader yet)."""
        total = 0
        try:
            for p in range(PARTITIONS):
                low, high = self.consumer.get_watermark_offsets(
                    TopicPartition(self.topic, p), timeout=10
                )
                total += high - low
        except KafkaException:
            return self.last_written
        self.last_written = total
        return total

    def close(self) -> None:
        self.consumer.close()


class LogTail:
    """New complete lines of a growing log file, each stamped when first seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        parts = (self.partial + data).split(b"\n")
        self.partial = parts.pop()
        return [p.decode("utf-8", "replace") for p in parts]


def start_worker(settings: Settings, topics: Topics, app_id: str, every: int,
                 log: Path) -> subprocess.Popen[bytes]:  # fmt: skip
    environ = {**environment(settings, topics), "STREAMS_LOG_FORMAT": "text"}  # lines we parse
    args = [sys.executable, "-m", "streams.cli", "worker", "--app-id", app_id,
            "--web-port", str(free_port()), "--partitions", str(PARTITIONS),
            "--checkpoint-every", str(every)]  # fmt: skip
    with log.open("wb") as handle:
        return subprocess.Popen(
            args, env=environ, stdout=handle, stderr=subprocess.STDOUT,
            cwd=log.parent,
        )  # fmt: skip


def crash(process: subprocess.Popen[bytes]) -> float:
    """SIGKILL the worker; its compute child must die with it (PR_SET_PDEATHSIG).

    Return the seconds until the last of its children was gone.
    """
    children = process_tree(process.pid)[1:]
    killed = time.time()
    process.kill()
    process.wait(10)
    while any(alive(c) for c in children) and time.time() - killed < 5:
        time.sleep(0.01)
    gone = time.time() - killed
    survivors = [c for c in children if alive(c)]
    for child in survivors:
        os.kill(child, 9)
    if survivors:
        raise RuntimeError(f"worker children {survivors} outlived the SIGKILLed worker")
    return gone


def run_a(watch: Watch, process: subprocess.Popen[bytes], kill_at: int) -> dict[str, Any]:
    """Let worker A write `kill_at` outputs, then SIGKILL it; return its timings."""
    first = None
    written_first = 0
    began = time.time()
    while True:
        watch.read()
        written = watch.written()
        now = time.time()
        if process.poll() is not None:
            raise RuntimeError(f"worker A exited with {process.returncode} before the kill")
        if written and first is None:
            first, written_first = now, written
        if written >= kill_at:
            break
        if now - began > 300:
            raise RuntimeError(f"worker A wrote {written} of {kill_at} outputs in 300 s")
    killed = time.time()
    children_gone_s = crash(process)
    assert first is not None
    return {"first": first, "killed": killed, "written_first": written_first,
            "written_before_kill": written, "children_gone_s": children_gone_s}  # fmt: skip


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")
MILESTONES = {  # B's log lines (aiokafka's group coordinator) that mark its way into the group
    "joining": "(Re-)joining group",
    "joined": "Joined group",
    "assigned": "Setting newly assigned partitions",
}


def line_time(line: str, seen: float) -> float:
    """Epoch seconds of a text-format log line (local time), else when the bench saw it."""
    match = LOG_TIME.match(line)
    if match is None:
        return seen
    return time.mktime(time.strptime(match[1], "%Y-%m-%d %H:%M:%S")) + int(match[2]) / 1000


class Recovery:
    """Worker B's milestones: from its log lines' own times, or when the bench saw them."""

    def __init__(self, watch: Watch, tail: LogTail, written_a: int) -> None:
        self.watch = watch
        self.tail = tail
        self.written_a = written_a
        self.t: dict[str, float] = {}
        self.restored: dict[int, tuple[int, int, int]] = {}

    def log(self) -> None:
        seen = time.time()
        for line in self.tail.lines():
            for name, text in MILESTONES.items():
                if text in line and name not in self.t:
                    self.t[name] = line_time(line, seen)
            match = RESTORED.search(line)
            if match and int(match[1]) not in self.restored:
                self.restored[int(match[1])] = (int(match[2]), int(match[3]), int(match[4]))
                if len(self.restored) == PARTITIONS:
                    self.t["restored"] = line_time(line, seen)

    def output(self) -> None:
        if "first_new" not in self.t and self.watch.written() > self.written_a:
            self.t["first_new"] = time.time()


def run_b(watch: Watch, process: subprocess.Popen[bytes], began: float, tail: LogTail,
          expected: set[str]) -> dict[str, Any]:  # fmt: skip
    """Time worker B from its start to restored partitions, first new output and caught up."""
    # what A wrote (B writes nothing before it has joined the group, seconds from now)
    written_a = watch.written()
    recovery = Recovery(watch, tail, written_a)
    last_new, last_count = began, len(watch.ids)
    while True:
        watch.read()
        now = time.time()
        if process.poll() is not None:
            raise RuntimeError(f"worker B exited with {process.returncode}")
        recovery.log()
        recovery.output()
        if len(watch.ids) != last_count:
            last_new, last_count = now, len(watch.ids)
        if watch.ids >= expected:
            recovery.t["caught_up"] = now
            break
        if now - last_new > STALL_S:
            missing = len(expected - watch.ids)
            raise RuntimeError(f"no new output for {STALL_S:.0f} s; {missing} record ids missing")
    return {"t": recovery.t, "restored": recovery.restored, "written_a": written_a}


def checkpoint_cost(settings: Settings, app_id: str) -> tuple[int, int]:
    """Records and bytes (key + value) in the checkpoint changelog topic."""
    count = size = 0
    topic = f"{app_id}-instrument-checkpoints-changelog"
    for message in read_topic(settings, topic, timeout_s=120):
        count += 1
        size += len(message.key() or b"") + len(message.value() or b"")
    return count, size


def one_setting(settings: Settings, input_topic: str, expected: set[str], every: int,
                inputs: int, work: Path) -> dict[str, Any]:  # fmt: skip
    tag = f"{every}-{uuid.uuid4().hex[:6]}"
    topics = dataclasses.replace(
        fresh_topics(settings, f"bench-recovery-{tag}"), book_deltas=input_topic
    )
    app_id = f"bench-recovery-{tag}"
    watch = Watch(settings, topics)
    log_a, log_b = work / f"a-{every}.log", work / f"b-{every}.log"
    worker_a = start_worker(settings, topics, app_id, every, log_a)
    worker_b = None
    try:
        a = run_a(watch, worker_a, round(KILL_AT * len(expected)))
        worker_b = start_worker(settings, topics, app_id, every, log_b)
        began = time.time()
        b = run_b(watch, worker_b, began, LogTail(log_b), expected)
    finally:
        stop(worker_a)
        if worker_b is not None:
            stop(worker_b)
        watch.close()
    extra = watch.ids - expected
    if extra:
        raise RuntimeError(f"{len(extra)} output record ids match no input, e.g. {min(extra)}")
    checkpoints, checkpoint_bytes = checkpoint_cost(settings, app_id)
    t = b["t"]
    missing = [m for m in (*MILESTONES, "restored", "first_new") if m not in t]
    if missing:
        raise RuntimeError(f"worker B's log lacks {missing}; see {log_b}")
    outputs_a = a["written_before_kill"] - a["written_first"]
    return {
        "every": every,
        "rate_a": outputs_a * inputs / len(expected) / (a["killed"] - a["first"]),
        "children_gone_s": a["children_gone_s"],
        "b_started_after_kill_s": began - a["killed"],
        "joined_after_kill_s": t["joined"] - a["killed"],
        "startup_s": t["joining"] - began,
        "group_wait_s": t["joined"] - t["joining"],
        "restore_s": t["restored"] - t["joined"],
        **{f"{k}_s": v - began for k, v in t.items()},
        "re_applied": sum(r[1] for r in b["restored"].values()),
        "from_checkpoints": sum(r[0] for r in b["restored"].values()),
        "checkpoints": checkpoints,
        "checkpoint_mb": checkpoint_bytes / 1e6,
        "outputs": watch.records,
        "duplicates": watch.records - len(watch.ids),
        "written_by_a": b["written_a"],
    }


# -- report -------------------------------------------------------------------------------------
HEADER = (
    "| checkpoint every (records/partition) | checkpoints written | MB | A msgs/s "
    "| B start-up | waiting for A's eviction | restore | records re-applied | restored "
    "| first new output | caught up | duplicates |\n" + "|---:" * 12 + "|"
)


def section(results: list[dict[str, Any]], inputs: int, base: int, instruments: int,
            outputs: int, total_s: float) -> str:  # fmt: skip
    rows = "\n".join(
        f"| {r['every']:,} | {r['checkpoints']:,} | {r['checkpoint_mb']:.1f} | "
        f"{r['rate_a']:,.0f} | {r['startup_s']:.1f} | {r['group_wait_s']:.1f} | "
        f"{r['restore_s']:.2f} | {r['re_applied']:,} | {r['restored_s']:.1f} | "
        f"{r['first_new_s']:.1f} | {r['caught_up_s']:.1f} | {r['duplicates']:,} |"
        for r in results
    )
    joined = ", ".join(f"{r['joined_after_kill_s']:.1f}" for r in results)
    return f"""{START}
## Recovery after a crash (`bench/bench_recovery.py`)

{time.strftime("%Y-%m-%d %H:%M")}, {platform.machine()}, {os.cpu_count()} cores shared with the
broker and other jobs, Python {platform.python_version()}. One local KRaft broker, {PARTITIONS}
partitions. Input: {inputs:,} `book-deltas` messages built from {base:,} real deltas (the
recordings of bench_compare), scaled to {instruments:,} instruments; {outputs:,} imbalance
records expected. Worker A (`streams worker`) is SIGKILLed when half of them are in the output
topic; worker B starts at once with the same `--app-id`. Whole run: {total_s / 60:.1f} min.

Times are seconds from B's start: **B start-up** until it asks to join the group; **waiting for
A's eviction** until the group lets it in, which happens only when A's session has timed out
(`session_timeout_s` = {SESSION_TIMEOUT_S:.0f} s since A's last heartbeat; B joined
{joined} s after the kill); **restore** from joining to its last "partition ... restored" log
line (Faust's changelog recovery, the checkpoints into the core, the records between each
partition's oldest checkpoint and the committed offset re-applied without output); then the
first new output record and **caught up** (every expected record id present). Checkpoints: records
and MB written to `<app-id>-instrument-checkpoints-changelog` over the whole run (A and B).
A msgs/s: worker A from its first output to the kill. Checked every run: the distinct output
record ids equal the expected ones (nothing lost, nothing extra); duplicates are the
at-least-once re-emits of what A had produced after its last commit.

{HEADER}
{rows}

{explanation(results, inputs, outputs)}
{END}"""


def explanation(results: list[dict[str, Any]], inputs: int, outputs: int) -> str:
    """What the table shows, in numbers of this run."""
    per_partition = round(results[0]["written_by_a"] * inputs / outputs / PARTITIONS)
    late = [f"{r['every']:,}" for r in results if r["every"] > per_partition]
    most = max(results, key=lambda r: r["re_applied"])
    writing = [r for r in results if r["checkpoints"]]
    cost = ", ".join(f"{r['checkpoint_mb']:.1f} MB for {r['every']:,}" for r in writing)
    kb = (
        sum(r["checkpoint_mb"] for r in writing)
        * 1e3
        / max(1, sum(r["checkpoints"] for r in writing))
    )
    text = (
        "The outage is B's start-up, then the wait for A's session to time out, then the "
        "restore; only the restore depends on the checkpoint interval. B re-applies about "
        f"{most['re_applied'] / most['restore_s']:,.0f} records/s (decode and core, no output), "
        "and each partition owes it the records from its oldest checkpoint to the committed "
        "offset, about `checkpoint-every` at most; the records after the last commit are "
        "processed again with output (the duplicates). "
        f"A was killed after about {per_partition:,} records per partition"
    )
    if late:
        text += (
            f", before the first checkpoint of {' and '.join(late)}: those partitions are "
            "rebuilt from offset 0, the worst case of a long interval"
        )
    text += (
        f". Checkpoints cost about {kb:.0f} KB each (one instrument's whole book and metric "
        f"state): {cost} over the {inputs:,} messages. Partitions are restored one by one as "
        "their first batch arrives, so the first new output can precede the last restore. "
        "A msgs/s and caught up follow the worker's throughput on this machine, shared with "
        "other jobs: one run per setting does not separate the checkpoint cost from that noise."
    )
    return textwrap.fill(text, width=100)


def main() -> int:
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    with configured_or_local(Settings.from_environment(), work / "kafka") as settings:
        return run(settings, began, work)


def run(settings: Settings, began: float, work: Path) -> int:
    codecs = TopicCodecs.register(settings)
    base = base_items()
    deltas = scaled(base, COPIES, 1)
    inputs, instruments = len(deltas), len({d.instrument for d in deltas})
    input_topic = fresh_topics(settings, f"bench-recovery-input-{uuid.uuid4().hex[:6]}")
    print(f"producing {inputs:,} messages ({instruments} instruments) ...", flush=True)
    produce(settings, codecs, input_topic.book_deltas, deltas)
    del deltas
    expected = expected_ids(settings, codecs, input_topic.book_deltas)
    print(f"{len(expected):,} imbalance records expected; logs in {work}", flush=True)
    results = []
    for every in SETTINGS:
        print(f"checkpoint every {every}: ...", flush=True)
        result = one_setting(settings, input_topic.book_deltas, expected, every, inputs, work)
        print(result, flush=True)
        results.append(result)
    text = section(results, inputs, len(base), instruments, len(expected),
                   time.perf_counter() - began)  # fmt: skip
    replace_section(DOCUMENT, "bench_recovery", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
