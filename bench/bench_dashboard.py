"""Live view: how many records per second it takes in, and what a browser tab receives meanwhile.

Run: `.venv/bin/python bench/bench_dashboard.py`. Starts a throwaway local broker (or uses
KAFKA_BOOTSTRAP_SERVERS), prints a table and rewrites the `bench_dashboard` section of
docs/benchmarks.md.

"ingest" hands decoded imbalance records to `DashboardState` (the feed thread's share after
decoding); "decode + ingest" starts from the Confluent-wire bytes. "Kafka -> page" produces
RECORDS imbalance records for INSTRUMENTS instruments to a 4-partition topic as fast as one producer
can while `streams dashboard` consumes them and headless Chromium shows the page; it reports the
rate at which the dashboard read them, the server-sent events and bytes the page received per
second while they streamed, and whether the page ended equal to the server.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' records, dashboard process and browser

from harness import tagged_topics  # noqa: E402  (bench/ is on sys.path as the script dir)
from sections import replace_section  # noqa: E402

from streams.broker import configured_or_local  # noqa: E402
from streams.codec import TopicCodecs  # noqa: E402
from streams.config import Settings  # noqa: E402
from streams.dashboard.config import DashboardConfig  # noqa: E402
from streams.dashboard.window import DashboardState  # noqa: E402
from streams.transport import KafkaOutputSink, create_topics, topic_specs  # noqa: E402
from tests.dashboard.browser import start_browser, start_dashboard, stop_dashboard  # noqa: E402
from tests.dashboard.records import stress_outputs  # noqa: E402

DOCUMENT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_dashboard:start -->", "<!-- bench_dashboard:end -->"
RECORDS = 200_000
INSTRUMENTS = 10
BASE_US = 1_700_000_000_000_000
SPACING_US = 10_000  # each instrument: one record per 10 ms of event time


def make_records(count: int) -> list[dict[str, Any]]:
    """Real-shaped imbalance records (the stress scenario's), spread over INSTRUMENTS symbols."""
    templates = [o.record for o in stress_outputs() if o.kind == "imbalance"]
    return [
        {**templates[i % len(templates)], "symbol": f"BENCH-{i % INSTRUMENTS}",
         "event_time": BASE_US + (i // INSTRUMENTS) * SPACING_US}
        for i in range(count)
    ]  # fmt: skip


def best_rate(run: Any, count: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def bench_in_process(records: list[dict[str, Any]]) -> tuple[float, float]:
    codecs = TopicCodecs.register(Settings(schema_registry_url="mock://bench"))
    encoded = [codecs.imbalance.encode(record) for record in records]
    decode = codecs.imbalance.decode

    def ingest() -> None:
        DashboardState(DashboardConfig()).ingest_imbalance(records)

    def decode_and_ingest() -> None:
        state = DashboardState(DashboardConfig())
        for first in range(0, len(encoded), 1000):  # the feed's batches
            state.ingest_imbalance([decode(value) for value in encoded[first : first + 1000]])

    return best_rate(ingest, len(records)), best_rate(decode_and_ingest, len(records))


def fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our local server)
        result: dict[str, Any] = json.load(response)
        return result


def bench_kafka_to_page(settings: Settings, records: list[dict[str, Any]]) -> dict[str, Any]:
    create_topics(settings, topic_specs(settings.topics, partitions=4))
    codecs = TopicCodecs.register(settings)
    encoded = [
        (f"{r['exchange']}:{r['symbol']}".encode(), codecs.imbalance.encode(r)) for r in records
    ]
    with tempfile.TemporaryDirectory() as directory:
        process, url = start_dashboard(settings, Path(directory))
        browser = start_browser()
        try:
            browser.get(url)
            while browser.execute_script("return streamsDashboard.events") < 1:
                time.sleep(0.05)
            before = browser.execute_script(
                "return [streamsDashboard.events, streamsDashboard.bytes]"
            )
            sink = KafkaOutputSink(settings)
            started = time.perf_counter()
            for key, value in encoded:
                sink.produce(settings.topics.imbalance, key, value)
            sink.flush()
            while fetch(url + "healthz")["imbalance"] < len(records):
                time.sleep(0.01)
            consumed_s = time.perf_counter() - started
            after = browser.execute_script(
                "return [streamsDashboard.events, streamsDashboard.bytes]"
            )
            server = fetch(url + "api/snapshot")["instruments"]
            time.sleep(1.0)  # let the last push land, then compare the page with the server
            page = browser.execute_script(
                "return Object.fromEntries([...streamsDashboard.instruments]"
                ".map(([k, v]) => [k, [v.records, v.points.length]]))"
            )
            equal = all(page[k] == [v["records"], len(v["points"])] for k, v in server.items())
        finally:
            browser.quit()
            stop_dashboard(process)
    return {
        "records_per_s": len(records) / consumed_s,
        "events_per_s": (after[0] - before[0]) / consumed_s,
        "kib_per_s": (after[1] - before[1]) / 1024 / consumed_s,
        "seconds": consumed_s,
        "page_equals_server": equal,
    }


def main() -> None:
    records = make_records(RECORDS)
    ingest, decode_ingest = bench_in_process(records[:100_000])
    with configured_or_local(Settings.from_environment(), Path(tempfile.mkdtemp())) as cluster:
        tag = uuid.uuid4().hex[:8]
        settings = Settings(
            bootstrap_servers=cluster.require_bootstrap(), schema_registry_url=f"mock://{tag}",
            topics=tagged_topics(f"bench-dashboard-{tag}"),
        )  # fmt: skip
        live = bench_kafka_to_page(settings, records)
    push = DashboardConfig().push_interval_s
    rows = [
        ("ingest (decoded records into the windows)", f"{ingest:,.0f} records/s"),
        ("decode + ingest (Confluent-wire bytes)", f"{decode_ingest:,.0f} records/s"),
        ("Kafka -> dashboard, while the page is open", f"{live['records_per_s']:,.0f} records/s"),
        ("server-sent events the page received", f"{live['events_per_s']:.1f} /s "
         f"(push interval {push} s)"),
        ("data the page received", f"{live['kib_per_s']:,.0f} KiB/s"),
        ("page equal to the server afterwards", "yes" if live["page_equals_server"] else "NO"),
    ]  # fmt: skip
    table = "\n".join(["| measured | result |", "|---|---:|"] + [f"| {a} | {b} |" for a, b in rows])
    section = (
        f"{START}\n{RECORDS:,} imbalance records for {INSTRUMENTS} instruments (100,000 for the "
        f"in-process rows), Python {platform.python_version()}, 2 cores shared with other jobs; "
        f"the broker, the dashboard and Chromium on the same machine. Kafka -> dashboard took "
        f"{live['seconds']:.1f} s.\n\n{table}\n{END}"
    )
    print(section)
    replace_section(DOCUMENT, "bench_dashboard", section)


if __name__ == "__main__":
    main()
