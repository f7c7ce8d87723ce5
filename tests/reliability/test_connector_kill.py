"""A connector SIGKILLed mid-stream and replaced: the new one resyncs every book from a fresh
snapshot, and every update in Kafka still matches the venue's checksum (nothing corrupt, no gap)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.run import child_environment
from streams.transport import read_topic
from tests.connectors.helpers import recording
from tests.connectors.test_session import VENUES, _create_topics, _snapshots, _verify_checksums
from tests.fixtures.waiting import wait_until
from tests.fixtures.workers import free_port

pytestmark = pytest.mark.integration


def _published(settings: Settings) -> int:
    return sum(1 for _ in read_topic(settings, settings.topics.book_deltas))


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_connector_killed_mid_stream_resyncs_and_publishes_nothing_corrupt(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    _create_topics(kafka_settings)
    name, symbols = VENUES["KRAKEN"][0], VENUES["KRAKEN"][1]
    port = free_port()
    env = child_environment(kafka_settings)
    server_log = tmp_path / "server.log"
    with server_log.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "fake-exchange", "KRAKEN",
             str(recording(name)), "--port", str(port), "--interval", "0.003"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    connect = [
        sys.executable, "-m", "streams.cli", "connect", "KRAKEN", "--symbols", ",".join(symbols),
        "--url-override", f"ws://127.0.0.1:{port}/ws", "--rest-override", f"http://127.0.0.1:{port}",
    ]  # fmt: skip
    try:
        wait_until(lambda: _listening(port), 30, "the replay server")
        first = subprocess.Popen(
            connect, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_until(lambda: _published(kafka_settings) >= 800, 120, "the first connector to publish")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = subprocess.Popen(
            connect, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_until(lambda: b"feed finished" in server_log.read_bytes(), 180, "the end of the feed")
        counts = [-1, _published(kafka_settings)]
        while counts[-1] != counts[-2]:  # until the topic stops growing
            time.sleep(2)
            counts.append(_published(kafka_settings))
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    finally:
        server.kill()
        server.wait(30)

    codecs = TopicCodecs.register(kafka_settings)
    deltas = [
        codecs.decode_keyed_delta(m.key(), m.value())
        for m in read_topic(kafka_settings, kafka_settings.topics.book_deltas)
    ]
    assert _verify_checksums("KRAKEN", deltas) > 1000  # every checksummed update still matches
    assert all(_snapshots(deltas, symbol) >= 2 for symbol in symbols)  # one per connector
    pipeline = Pipeline()
    for offset, delta in enumerate(deltas):
        pipeline.process(delta, SourcePosition("book-deltas", 0, offset))
    assert (pipeline.counters.gaps, pipeline.counters.crossed) == (0, 0)
