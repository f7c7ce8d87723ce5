"""Sink throughput in rows per second: the writers alone, and Kafka -> runner -> writer.

Run: `.venv/bin/python bench/bench_sinks.py`. Starts a throwaway local broker (or uses
KAFKA_BOOTSTRAP_SERVERS) and a throwaway PostgreSQL cluster (or uses POSTGRES_DSN, whose tables
it then fills), prints a table and rewrites the `bench_sinks` section of docs/benchmarks.md.

"write" hands decoded imbalance rows to the writer in batches of BATCH rows and counts until the
data is durable (Parquet: fsync + rename; PostgreSQL: COMMIT). "end-to-end" produces the same
rows to a 4-partition topic first, then times a SinkRunner from its first committed batch until
every row is written and committed (consume, Avro decode, write, commit; no group join).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' record builder and PostgreSQL starter

from harness import tagged_topics  # noqa: E402  (bench/ is on sys.path as the script dir)
from sections import replace_section  # noqa: E402

from streams.broker import configured_or_local  # noqa: E402
from streams.codec import TopicCodecs  # noqa: E402
from streams.config import Secret, Settings  # noqa: E402
from streams.sinks.base import BatchWriter, PartitionBatch  # noqa: E402
from streams.sinks.parquet import ParquetWriter  # noqa: E402
from streams.sinks.postgres import PostgresWriter  # noqa: E402
from streams.sinks.runner import SinkConfig, SinkRunner  # noqa: E402
from streams.sinks.tables import IMBALANCE  # noqa: E402
from streams.transport import create_topics, topic_specs  # noqa: E402
from tests.fixtures.postgres import PostgresServer, _start_local  # noqa: E402
from tests.sinks.records import make_records, produce  # noqa: E402

DOCUMENT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_sinks:start -->", "<!-- bench_sinks:end -->"
ROWS = 100_000
BATCH = 20_000


def bench_write(make_writer: Callable[[], BatchWriter], rows: list[dict[str, object]]) -> float:
    writer = make_writer()
    started = time.perf_counter()
    for first in range(0, len(rows), BATCH):
        chunk = rows[first : first + BATCH]
        writer.write([PartitionBatch(IMBALANCE, "bench", 0, first, first + len(chunk) - 1, chunk)])
    seconds = time.perf_counter() - started
    writer.close()
    return len(rows) / seconds


def bench_end_to_end(settings: Settings, writer: BatchWriter, count: int) -> float:
    runner = SinkRunner(
        settings, TopicCodecs.register(settings), writer,
        SinkConfig(group_id=f"bench-{uuid.uuid4().hex[:6]}", batch_size=BATCH, batch_seconds=1.0),
    )  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    while runner.stats.rows_written == 0:  # the group join (about 3 s on a fresh group) excluded
        time.sleep(0.001)
    started, already = time.perf_counter(), runner.stats.rows_written
    while runner.stats.rows_written < count:
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    stop.set()
    thread.join()
    writer.close()
    return (count - already) / seconds


def _postgres(directory: Path) -> tuple[PostgresServer, Callable[[], str]]:
    existing = os.environ.get("POSTGRES_DSN")
    server = PostgresServer(dsn=existing) if existing else _start_local(directory)
    return server, server.database if not existing else (lambda: existing)


def main() -> int:
    rows = make_records(IMBALANCE, 0, ROWS, prefix=uuid.uuid4().hex[:6])
    results: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sinks-") as temp, ExitStack() as stack:
        temp_path = Path(temp)
        pg_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        server, new_database = _postgres(pg_dir)
        try:
            cluster = configured_or_local(Settings.from_environment(), temp_path / "kafka")
            bootstrap = stack.enter_context(cluster).require_bootstrap()
            results.append(("parquet", "write", bench_write(
                lambda: ParquetWriter(temp_path / "w"), rows)))  # fmt: skip
            dsn = new_database()
            results.append(("postgres", "write", bench_write(
                lambda: PostgresWriter(Secret(dsn)), rows)))  # fmt: skip
            tag = uuid.uuid4().hex[:8]
            topics = tagged_topics(f"bench-sinks-{tag}")
            settings = Settings(bootstrap_servers=bootstrap, topics=topics)
            create_topics(settings, topic_specs(topics, partitions=4))
            codecs = TopicCodecs.register(settings)
            fresh = make_records(IMBALANCE, 0, ROWS, prefix=tag)
            produce(settings, IMBALANCE, fresh, codecs)
            results.append(("parquet", "end-to-end", bench_end_to_end(
                settings, ParquetWriter(temp_path / "e2e"), ROWS)))  # fmt: skip
            results.append(("postgres", "end-to-end", bench_end_to_end(
                settings, PostgresWriter(Secret(new_database())), ROWS)))  # fmt: skip
        finally:
            stack.close()
            if server.controllable:
                server.stop("fast")
    body = "\n".join([
        "## Sinks (`bench/bench_sinks.py`)",
        "",
        f"{ROWS:,} imbalance rows (every field filled), batches of {BATCH:,}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores shared with other jobs, local "
        "disk, PostgreSQL on the same machine with fsync on. \"write\": decoded rows to durable "
        "storage; \"end-to-end\": consume + decode + write + commit from a 4-partition topic, "
        "timed from the first committed batch (the consumer-group join is left out).",
        "",
        "| sink | measured | rows/s |",
        "|---|---|---:|",
        *(f"| {sink} | {kind} | {rate:,.0f} |" for sink, kind, rate in results),
    ])  # fmt: skip
    print(body)
    replace_section(DOCUMENT, "bench_sinks", f"{START}\n{body}\n{END}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
