"""Secrets never show: not in `repr`, not in the logs of a worker that authenticates to a real
SASL/SCRAM broker with them, not in the logs of a sink whose PostgreSQL DSN carries a password."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.codec import TopicCodecs
from streams.config import Secret, Settings, Topics
from streams.sources.spec import open_source
from streams.transport import DeltaPublisher, create_topics, topic_specs
from tests.deploy.contract import check_environment
from tests.deploy.scram_broker import MECHANISM, ScramBroker
from tests.deploy.test_health import get, value
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.waiting import wait_until
from tests.fixtures.workers import RECORDINGS, free_port, settings_environment

RECORDING = RECORDINGS / "BYBIT.jsonl.zst"
SASL_PASSWORD = f"sasl-{uuid.uuid4().hex}"
REGISTRY_PASSWORD = f"registry-{uuid.uuid4().hex}"
DSN_PASSWORD = f"dsn-{uuid.uuid4().hex}"


@pytest.mark.unit
def test_settings_hold_secrets_without_showing_them() -> None:
    settings = check_environment({
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": "streams",
        "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        "SCHEMA_REGISTRY_BASIC_AUTH": f"streams:{REGISTRY_PASSWORD}",
    })  # fmt: skip

    shown = f"{settings!r} {settings} {settings.sasl_password} {[settings]}"

    assert SASL_PASSWORD not in shown
    assert REGISTRY_PASSWORD not in shown
    assert settings.kafka_client_config()["sasl.password"] == SASL_PASSWORD  # configured
    assert settings.schema_registry_config()["basic.auth.user.info"].endswith(REGISTRY_PASSWORD)
    assert Secret(SASL_PASSWORD) == settings.sasl_password


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScramBroker]:
    home = Settings.from_environment().home  # the jar cache the session broker uses
    broker = ScramBroker(home, tmp_path_factory.mktemp("scram"), "streams", SASL_PASSWORD)
    broker.start(heap_mb=384)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.integration
@pytest.mark.parametrize("mechanism", [MECHANISM, "PLAIN"])
def test_worker_on_a_sasl_broker_never_logs_the_password(
    scram_broker: ScramBroker, tmp_path: Path, mechanism: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        bootstrap_servers=scram_broker.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism, sasl_username="streams", sasl_password=Secret(SASL_PASSWORD),
        schema_registry_url=f"mock://{tag}",
        topics=Topics(book_deltas=f"{tag}.deltas", imbalance=f"{tag}.imbalance",
                      suggestions=f"{tag}.suggestions", dead_letter=f"{tag}.dead-letter"),
    )  # fmt: skip
    create_topics(settings, topic_specs(settings.topics, partitions=2))  # over SCRAM already
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings))
    published = publisher.publish_many(d for d, _ in open_source(f"raw:BYBIT:{RECORDING}"))
    publisher.flush()
    port = free_port()
    env = {
        **settings_environment(settings),
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": mechanism,
        "KAFKA_SASL_USERNAME": "streams", "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
        "STREAMS_LOG_FORMAT": "json",
    }  # fmt: skip
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "streams.cli", "-v", "worker", "--app-id", f"w-{tag}",
               "--web-port", str(port)]  # fmt: skip
    with log.open("wb") as out:  # -v: DEBUG, the most a log ever says
        worker = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        alive = lambda: worker.poll() is None  # noqa: E731
        wait_until(lambda: value(port, "streams_events_total", role="worker") >= published,
                   240, "the worker to process every delta over SASL", alive)  # fmt: skip
        outputs = value(port, "streams_outputs_total", role="worker", topic="imbalance")
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    text = log.read_text(errors="replace")

    assert outputs > 0
    assert len(text.splitlines()) > 50  # a DEBUG log, not an empty one
    assert any(json.loads(line)["level"] == "DEBUG" for line in text.splitlines()
               if line.startswith("{"))  # fmt: skip
    assert SASL_PASSWORD not in text


@pytest.mark.integration
def test_postgres_sink_never_logs_its_dsn_password(
    kafka_settings: Settings, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=1))
    dsn = f"{postgres_server.database()} password={DSN_PASSWORD}"  # trust auth: it is ignored
    port = free_port()
    env = {**settings_environment(kafka_settings), "POSTGRES_DSN": dsn}
    log = tmp_path / "sink.log"
    command = [sys.executable, "-m", "streams.cli", "-v", "sink", "postgres",
               "--group-id", f"sink-{uuid.uuid4().hex[:8]}", "--web-port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        sink = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: get(port, "/readyz")[0] == 200, 60, "sink /readyz",
                   lambda: sink.poll() is None)  # fmt: skip
        sink.send_signal(signal.SIGTERM)
        status = sink.wait(timeout=60)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait(timeout=30)
    text = log.read_text(errors="replace")

    assert status == 0, text[-2000:]
    assert "PostgreSQL sink on" in text  # the DSN was logged, redacted
    assert DSN_PASSWORD not in text
