"""Health, readiness and metrics of every role, live: a worker on the real broker fed a real
recording, a Parquet sink behind it, and a connector against the replay server. Plus the pages'
own rules (`streams.operations.HealthServer`) on hand-written checks."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.operations import HealthServer, event_loop_alive
from streams.sources.spec import open_source
from streams.transport import DeltaPublisher, create_topics, topic_specs
from tests.fixtures.waiting import wait_until
from tests.fixtures.workers import RECORDINGS, WorkerFactory, free_port, settings_environment

RECORDING = RECORDINGS / "BYBIT.jsonl.zst"
KRAKEN = RECORDINGS / "KRAKEN.ws.50.0"
KRAKEN_SYMBOLS = "XBT/CHF,ETH/CHF,XMR/USD"


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""  # not listening yet


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by name and sorted labels (none while not listening)."""
    status, body = get(port, "/metrics")
    if status == 0:
        return {}
    assert status == 200, body[:2000]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(port: int, name: str, **labels: str) -> float:
    return samples(port).get((name, tuple(sorted(labels.items()))), 0.0)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def spawn(started: list[subprocess.Popen[bytes]], command: list[str], log: Path,
          env: dict[str, str]) -> subprocess.Popen[bytes]:  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    started.append(process)
    return process


# -- the pages' rules ---------------------------------------------------------------------------
@pytest.mark.unit
def test_a_role_is_live_but_not_ready_until_it_binds_its_checks() -> None:
    server = HealthServer("127.0.0.1", 0).start()
    try:
        before = (get(server.port, "/healthz")[0], get(server.port, "/readyz")[0])
        server.bind(live=lambda: True, ready=lambda: True, detail=lambda: {"batches": 3})
        status, body = get(server.port, "/readyz")
    finally:
        server.stop()

    assert before == (200, 503)
    assert (status, json.loads(body)) == (200, {"ready": True, "batches": 3})


@pytest.mark.unit
def test_a_failing_or_raising_check_fails_its_probe_and_the_server_keeps_serving() -> None:
    server = HealthServer("127.0.0.1", 0).start()

    def broken() -> bool:
        raise RuntimeError("check exploded")

    try:
        server.bind(live=lambda: False, ready=broken)
        pages = {path: get(server.port, path)[0] for path in ("/healthz", "/readyz", "/nope")}
        metrics = get(server.port, "/metrics")[0]
    finally:
        server.stop()

    assert pages == {"/healthz": 503, "/readyz": 503, "/nope": 404}
    assert metrics == 200


@pytest.mark.unit
def test_event_loop_liveness_tells_a_turning_loop_from_a_blocked_one() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    release = threading.Event()
    try:
        turning = event_loop_alive(loop, timeout_s=5)
        loop.call_soon_threadsafe(release.wait, 30)  # blocks the loop, as a CPU-bound bug would
        blocked = event_loop_alive(loop, timeout_s=0.5)
    finally:
        release.set()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()

    assert (turning, blocked) == (True, False)
    assert event_loop_alive(loop) is False  # closed


# -- live roles ---------------------------------------------------------------------------------
@pytest.mark.integration
def test_worker_and_sink_serve_health_and_nonzero_metrics_on_the_real_broker(
    kafka_settings: Settings, worker_factory: WorkerFactory, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=2))
    publisher = DeltaPublisher(kafka_settings, TopicCodecs.register(kafka_settings))
    published = publisher.publish_many(d for d, _ in open_source(f"raw:BYBIT:{RECORDING}"))
    publisher.flush()
    monkeypatch.setenv("STREAMS_LOG_FORMAT", "json")  # the children inherit it

    worker = worker_factory()
    sink_port = free_port()
    sink = spawn(processes, [
        sys.executable, "-m", "streams.cli", "sink", "parquet", "--path", str(tmp_path / "pq"),
        "--group-id", f"{worker_factory.app_id}-sink", "--web-port", str(sink_port),
    ], tmp_path / "sink.log", settings_environment(kafka_settings))  # fmt: skip
    worker_alive = lambda: worker.process.poll() is None  # noqa: E731
    port = worker.web_port

    wait_until(lambda: get(port, "/readyz")[0] == 200, 180, "worker /readyz", worker_alive)
    wait_until(lambda: value(port, "streams_events_total", role="worker") >= published, 240,
               "every published delta counted", worker_alive)  # fmt: skip
    wait_until(lambda: value(sink_port, "streams_sink_write_seconds_count", sink="parquet") > 0,
               120, "a sink write", lambda: sink.poll() is None)  # fmt: skip
    worker_metrics, sink_metrics = samples(port), samples(sink_port)
    sink_ready = get(sink_port, "/readyz")
    print(f"worker RSS {rss_mib(worker.process.pid):.0f} MiB, "
          f"sink RSS {rss_mib(sink.pid):.0f} MiB after {published} deltas")  # fmt: skip

    assert get(port, "/healthz")[0] == 200
    assert worker_metrics[("streams_events_total", (("role", "worker"),))] == published
    imbalance = ("streams_outputs_total", (("role", "worker"), ("topic", "imbalance")))
    assert worker_metrics[imbalance] > 0
    assert worker_metrics[("streams_latency_seconds_count", ())] > 0
    assert worker_metrics[("streams_batch_seconds_count", (("role", "worker"),))] > 0
    assert sink_ready[0] == 200
    assert json.loads(sink_ready[1])["rows_written"] > 0
    assert get(sink_port, "/healthz")[0] == 200
    assert sink_metrics[("streams_sink_write_seconds_count", (("sink", "parquet"),))] > 0
    for line in worker.log().splitlines():  # STREAMS_LOG_FORMAT=json reaches Faust's logging too
        if line.startswith("{"):
            assert {"time", "level", "logger", "message"} <= set(json.loads(line))
    assert sum(line.startswith('{"time"') for line in worker.log().splitlines()) > 3


@pytest.mark.integration
def test_connector_is_ready_once_its_books_sync_and_counts_deltas(
    kafka_settings: Settings, tmp_path: Path, processes: list[subprocess.Popen[bytes]],
) -> None:  # fmt: skip
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=2))
    env = settings_environment(kafka_settings)
    replay_port, web_port = free_port(), free_port()
    spawn(processes, [
        sys.executable, "-m", "streams.cli", "fake-exchange", "KRAKEN", str(KRAKEN),
        "--port", str(replay_port), "--interval", "0.002",
    ], tmp_path / "replay.log", env)  # fmt: skip
    wait_until(lambda: "replaying" in (tmp_path / "replay.log").read_text(), 60, "replay server")
    connector = spawn(processes, [
        sys.executable, "-m", "streams.cli", "connect", "KRAKEN", "--symbols", KRAKEN_SYMBOLS,
        "--url-override", f"ws://127.0.0.1:{replay_port}/ws",
        "--rest-override", f"http://127.0.0.1:{replay_port}", "--web-port", str(web_port),
    ], tmp_path / "connector.log", env)  # fmt: skip
    alive = lambda: connector.poll() is None  # noqa: E731

    wait_until(lambda: get(web_port, "/healthz")[0] == 200, 60, "connector /healthz", alive)
    wait_until(lambda: get(web_port, "/readyz")[0] == 200, 120, "connector /readyz", alive)
    ready = json.loads(get(web_port, "/readyz")[1])
    deltas = value(web_port, "streams_connector_deltas_total", venue="KRAKEN")
    connector.send_signal(signal.SIGTERM)
    exit_status = connector.wait(timeout=60)

    assert ready["ready"] is True
    assert ready["venue"] == "KRAKEN"
    assert ready["snapshots_published"] >= len(KRAKEN_SYMBOLS.split(","))
    assert deltas >= ready["snapshots_published"] > 0
    assert exit_status == 0, (tmp_path / "connector.log").read_text()[-2000:]
    assert os.path.getsize(tmp_path / "connector.log") > 0
