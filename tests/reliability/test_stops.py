"""Every stop ends, broker up or down, and says how it ended; readiness follows the broker; the
worker's web server serves only its documented pages on the address asked.

The broker that goes away is the test's own (`own_broker`), never the shared session broker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from streams.broker import free_port
from streams.codec import TopicCodecs
from streams.operations import EXIT_STOP_TIMED_OUT, STOP_DEADLINE_S
from tests.fixtures.waiting import wait_until
from tests.fixtures.workers import WorkerFactory, WorkerProcess
from tests.reliability.conftest import OwnBroker
from tests.reliability.helpers import produce_stream, recorded_deltas
from tests.sinks.conftest import ParquetTarget

pytestmark = pytest.mark.integration

STOP_WAIT_S = STOP_DEADLINE_S + 30  # the deadline, plus the time a loaded machine takes to exit


def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {}


def _ready(port: int) -> bool:
    return _get(port, "/readyz")[0] == 200


def _started_worker(own_broker: OwnBroker, tmp_path: Path) -> WorkerProcess:
    settings = own_broker.settings
    produce_stream(settings, TopicCodecs.register(settings), recorded_deltas()[:2000])
    worker = WorkerFactory(settings, tmp_path)("--batch-size", "100")
    wait_until(lambda: _ready(worker.web_port), 240, "the worker to be ready")
    assert worker.process.poll() is None
    return worker


def test_worker_with_the_broker_gone_turns_unready_and_its_sigterm_ends_non_zero(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    worker = _started_worker(own_broker, tmp_path)
    try:
        own_broker.broker.stop()
        wait_until(lambda: not _ready(worker.web_port), 120, "readiness to fail")
        status, body = _get(worker.web_port, "/readyz")
        assert (status, body.get("broker_reachable")) == (503, False)
        assert _get(worker.web_port, "/healthz")[0] == 200  # alive: no restart for a broker outage

        worker.process.terminate()
        code = worker.process.wait(timeout=STOP_WAIT_S)
    finally:
        if worker.process.poll() is None:
            worker.kill()
    assert code == EXIT_STOP_TIMED_OUT, worker.log()[-3000:]


def test_worker_stopped_with_the_broker_up_exits_zero_and_serves_only_its_pages(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    worker = _started_worker(own_broker, tmp_path)
    try:
        port = worker.web_port
        assert _get(port, "/healthz")[0] == 200
        assert _get(port, "/metrics")[0] == 200
        for path in ("/", "/router/", "/table/", "/table/instrument-checkpoints/", "/stats/"):
            assert _get(port, path)[0] == 404, path
        # a server on 0.0.0.0 would answer on every loopback address, not only 127.0.0.1
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.2", port)) != 0
        code = worker.terminate(timeout_s=STOP_WAIT_S)
    finally:
        if worker.process.poll() is None:
            worker.kill()
    assert code == 0, worker.log()[-3000:]


def test_sink_turns_unready_without_the_broker_and_its_sigterm_ends_in_bounded_time(
    own_broker: OwnBroker, tmp_path: Path
) -> None:
    from tests.fixtures.workers import settings_environment

    port = free_port()
    target = ParquetTarget(tmp_path / "lake")
    arguments, _ = target.cli()
    log_path = tmp_path / "sink.log"
    with log_path.open("wb") as log:
        sink = subprocess.Popen(
            [
                sys.executable, "-m", "streams.cli", "sink", *arguments, "--group-id", "stops-sink",
                "--web-port", str(port),
            ],
            env=settings_environment(own_broker.settings), stdout=log, stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )  # fmt: skip
    try:
        wait_until(lambda: _ready(port), 120, "the sink to be ready")
        own_broker.broker.stop()
        wait_until(lambda: not _ready(port), 120, "the sink's readiness to fail")
        assert _get(port, "/readyz")[1].get("broker_reachable") is False
        sink.terminate()
        code = sink.wait(timeout=STOP_WAIT_S)
    finally:
        if sink.poll() is None:
            sink.kill()
    # nothing was in hand: a clean stop (0), or the deadline's 75 if the consumer's close hung
    assert code in (0, EXIT_STOP_TIMED_OUT), log_path.read_text(errors="replace")[-3000:]


def test_a_stop_that_never_finishes_is_cut_by_the_deadline_with_75(tmp_path: Path) -> None:
    # the role's stop callback does nothing, as when a flush or a commit waits for a lost broker
    script = (
        "import sys, time\n"
        "from streams.operations import on_stop_signals\n"
        "on_stop_signals('stuck', lambda: None)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(0.1)\n"
    )
    role = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "STREAMS_STOP_DEADLINE_S": "1"}, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert role.stdout is not None
        assert role.stdout.readline() == b"ready\n"
        role.terminate()
        assert role.wait(timeout=STOP_WAIT_S) == EXIT_STOP_TIMED_OUT
    finally:
        if role.poll() is None:
            role.kill()
