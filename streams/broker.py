"""A real single-node Apache Kafka (KRaft) for laptops, tests and CI, from Maven Central jars.

No Docker engine and no apache.org downloads here, so Maven fetches `org.apache.kafka:kafka_2.13`
(see deploy/kafka/pom.xml) into a cache and we start `kafka.Kafka` in combined broker+controller
mode on 127.0.0.1 with free ports, a small heap and its log in a file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confluent_kafka.admin import AdminClient

from streams.exceptions import StreamsError

if TYPE_CHECKING:
    from streams.config import Settings

__all__ = [
    "BrokerError",
    "BrokerProcess",
    "LocalBroker",
    "configured_or_local",
    "free_port",
    "free_ports",
    "wait_until_reachable",
]

_POM = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "pom.xml"
_START_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30.0


class BrokerError(StreamsError):
    """The local broker cannot be fetched, started or stopped."""


@dataclass(frozen=True, slots=True)
class BrokerProcess:
    """What `start` leaves in the state file, so `status` and `stop` work from another process."""

    pid: int
    bootstrap_servers: str
    data_dir: str
    log_file: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each socket stays bound until all are chosen, since two
    calls of `free_port` in a row may return the same port (the broker then refuses to start)."""
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BrokerError(f"`{tool}` not found on PATH: {hint}")
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class LocalBroker:
    """Fetch, start, inspect and stop the local KRaft broker whose state lives under `home`."""

    def __init__(
        self, home: Path, kafka_version: str = "3.9.1", state_dir: Path | None = None
    ) -> None:
        self.home = home
        self.kafka_version = kafka_version
        self.libs = home / f"kafka-{kafka_version}" / "libs"
        self.state_dir = state_dir or home / "broker"
        self.state_file = self.state_dir / "broker.json"

    # -- jars -----------------------------------------------------------------------------------
    def ensure_jars(self) -> Path:
        """Let Maven copy the broker's jars into the cache once; later calls are free."""
        marker = self.libs / ".complete"
        if marker.exists():
            return self.libs
        _require("java", "install a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre`)")
        mvn = _require("mvn", "install Apache Maven (e.g. `apt-get install maven`)")
        if not _POM.is_file():
            raise BrokerError(f"missing {_POM}: run from a checkout of the project")
        self.libs.mkdir(parents=True, exist_ok=True)
        command = [
            mvn, "-q", "-B", "-f", str(_POM), "dependency:copy-dependencies",
            f"-Dkafka.version={self.kafka_version}",
            f"-DoutputDirectory={self.libs}", "-DincludeScope=runtime",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(self.libs.glob("kafka_2.13-*.jar")):
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise BrokerError("Maven could not fetch the Kafka jars: " + " | ".join(tail))
        marker.touch()
        return self.libs

    # -- lifecycle ------------------------------------------------------------------------------
    def status(self) -> BrokerProcess | None:
        """Return the running broker recorded in the state file, or None."""
        try:
            state = BrokerProcess(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return state if _pid_alive(state.pid) else None

    def start(self, *, heap_mb: int = 512) -> BrokerProcess:
        """Start a fresh broker (or return the running one) and wait until a client sees it."""
        running = self.status()
        if running is not None:
            return running
        libs = self.ensure_jars()
        data_dir = self.state_dir / "data"
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        broker_port, controller_port = free_ports(2)
        properties = self._write_properties(data_dir, broker_port, controller_port)
        self._format_storage(libs, properties)
        log_file = self.state_dir / "kafka.log"
        process = self._launch(libs, properties, log_file, heap_mb)
        state = BrokerProcess(
            pid=process.pid,
            bootstrap_servers=f"127.0.0.1:{broker_port}",
            data_dir=str(data_dir),
            log_file=str(log_file),
        )
        self.state_file.write_text(json.dumps(asdict(state)))
        try:
            wait_until_reachable(state.bootstrap_servers, _START_TIMEOUT_S, process)
        except BrokerError:
            self.stop()
            raise
        return state

    def restart(self, *, heap_mb: int = 512, crash: bool = False) -> BrokerProcess:
        """Stop the running broker and start it again on the same ports with the same data.

        Clients see an outage, not a new cluster: the address, topics, committed offsets and
        records are all still there. `crash=True` kills it (SIGKILL, log recovery on start).
        """
        try:
            state = BrokerProcess(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise BrokerError(f"no broker to restart in {self.state_dir}: {error}") from error
        if crash and _pid_alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
            while _pid_alive(state.pid):
                _reap(state.pid)
                time.sleep(0.05)
        else:
            _terminate(state.pid)
        properties = Path(state.data_dir) / "server.properties"
        process = self._launch(self.ensure_jars(), properties, Path(state.log_file), heap_mb)
        state = BrokerProcess(process.pid, state.bootstrap_servers, state.data_dir, state.log_file)
        self.state_file.write_text(json.dumps(asdict(state)))
        wait_until_reachable(state.bootstrap_servers, _START_TIMEOUT_S, process)
        return state

    def stop(self) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after a timeout); True if one ran."""
        try:
            state = BrokerProcess(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return False
        stopped = _terminate(state.pid)
        self.state_file.unlink(missing_ok=True)
        return stopped

    # -- helpers --------------------------------------------------------------------------------
    def _write_properties(self, data_dir: Path, broker_port: int, controller_port: int) -> Path:
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(data_dir / "logs"),
            "num.partitions": "4",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "168",
            # This broker replays recordings whose event times (the records' CreateTime) are
            # months old: time retention would delete them at its next check (every 5 min),
            # under a running worker. Retention here counts from when a record was appended.
            "log.message.timestamp.type": "LogAppendTime",
        }
        path = data_dir / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        (data_dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
        )
        return path

    def _java(self, libs: Path, properties: Path, heap_mb: int) -> list[str]:
        java = _require(
            "java", "install a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre`)"
        )
        return [
            java, f"-Xmx{heap_mb}m", f"-Xms{min(heap_mb, 256)}m", "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{properties.parent / 'log4j.properties'}",
            "-cp", f"{libs}/*",
        ]  # fmt: skip

    def _format_storage(self, libs: Path, properties: Path) -> None:
        cluster_id = "-"
        while cluster_id.startswith("-"):  # the storage tool would read a leading '-' as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        command = [
            *self._java(libs, properties, 256),
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed: {result.stderr.strip()[-400:]}")

    def _launch(
        self, libs: Path, properties: Path, log_file: Path, heap_mb: int
    ) -> subprocess.Popen[bytes]:
        command = [*self._java(libs, properties, heap_mb), "kafka.Kafka", str(properties)]
        with log_file.open("wb") as log:
            return subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )


def _terminate(pid: int) -> bool:
    if not _pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        _reap(pid)
        if not _pid_alive(pid):
            return True
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until_reachable(
    bootstrap_servers: str,
    timeout_s: float,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Block until an admin client lists topics on the cluster, or raise `BrokerError`."""
    deadline = time.monotonic() + timeout_s
    admin = AdminClient({"bootstrap.servers": bootstrap_servers, "log_level": 0})
    last_error = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"the broker exited with status {process.returncode}; see its log")
        try:
            admin.list_topics(timeout=2)
            return
        except Exception as error:
            last_error = str(error)
            time.sleep(0.5)
    raise BrokerError(
        f"Kafka at {bootstrap_servers} not reachable after {timeout_s:.0f} s: {last_error}"
    )


@contextlib.contextmanager
def configured_or_local(
    settings: Settings, state_dir: Path, *, heap_mb: int = 512
) -> Iterator[Settings]:
    """The configured cluster as is, or a local broker started in `state_dir` for the duration."""
    if settings.bootstrap_servers:
        yield settings
        return
    broker = LocalBroker(settings.home, settings.kafka_version, state_dir=state_dir)
    state = broker.start(heap_mb=heap_mb)
    print(f"local Kafka broker on {state.bootstrap_servers}", file=sys.stderr)
    try:
        yield settings.with_bootstrap(state.bootstrap_servers)
    finally:
        broker.stop()
