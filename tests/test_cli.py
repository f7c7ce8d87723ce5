"""Whatever a user gets wrong, `streams` answers with one line on stderr and exit status 2.

Each case runs the real command in a child process, as a user would, with an environment that
points at no cluster unless the case says so. Unreachable brokers and registries are closed ports
on this machine with a one-second STREAMS_CONNECT_TIMEOUT_S.
"""

from __future__ import annotations

import gzip
import math
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.agents.app import WorkerConfig
from streams.config import Settings
from streams.core.config import MetricsConfig
from streams.exceptions import StreamsError

HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
ROW = "bybit,BTCUSDT,1600000000000000,1600000000000001,true,bid,100,1\n"


def streams(*args: str, cwd: Path, **environment: str) -> tuple[int, list[str]]:
    """Run `streams ARGS`; return its exit status and its stderr lines."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("KAFKA_", "SCHEMA_REGISTRY_", "STREAMS_"))
    }  # fmt: skip
    env.update(STREAMS_HOME=str(cwd / "home"), **environment)  # no local broker there
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    return result.returncode, result.stderr.splitlines()


def assert_one_line_error(status: int, lines: list[str], *expected: str) -> None:
    assert status == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("streams"), lines
    assert " error: " in lines[0]
    for text in expected:
        assert text in lines[0]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on (held bound, not listening, so nobody else takes it)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


BAD_VALUES = [
    (["worker", "--batch-size", "0"], "--batch-size"),
    (["worker", "--batch-size", "many"], "--batch-size"),
    (["worker", "--batch-within-ms", "nan"], "--batch-within-ms"),
    (["worker", "--processing-guarantee", "maybe"], "--processing-guarantee"),
    (["worker", "--web-port", "70000"], "--web-port"),
    (["dashboard", "--port", "-1"], "--port"),
    (["dashboard", "--window", "0"], "--window"),
    (["sink", "parquet", "--path", ".", "--batch-seconds", "-1"], "--batch-seconds"),
    (["sink", "mongodb"], "mongodb"),
    (["sink", "postgres", "--dsn", "not a dsn"], "not a libpq DSN"),
    (["topics", "create", "--partitions", "0"], "--partitions"),
    (["run", "--partitions", "0"], "--partitions"),
    (["connect", "KRAKEN", "--symbols", "XBT/USD", "--stale-after", "inf"], "--stale-after"),
    (["broker", "start", "--heap-mb", "0"], "--heap-mb"),
    (["replay", "--from", "yesterday", "--to", "now"], "yesterday"),
    (["replay", "--from", "1e400", "--to", "2"], "1e400"),
    (["connect", "KRAKEN", "--symbols", "XBT/USD", "--url-override", "localhost:1"], "ws://"),
    (["audit", "--from", "2", "--to", "1"], "--to must be after --from"),
    (["compute", "--source", "tardis:missing.csv", "--output", "out.jsonl"], "missing.csv"),
    (["compute", "--source", "csv:x.csv", "--output", "out.jsonl"], "tardis:PATH"),
    (["compute", "--source", "raw:NOWHERE:/dev/null", "--output", "out.jsonl"], "'NOWHERE'; known"),
    (["simulate", "flash_crash", "--output", "no/such/dir/x.jsonl"], "no/such/dir"),
    (["frobnicate"], "frobnicate"),
]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("arguments", "named"), BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES]
)
def test_a_bad_value_is_one_line_naming_it(
    arguments: list[str], named: str, tmp_path: Path
) -> None:
    status, lines = streams(*arguments, cwd=tmp_path)

    assert_one_line_error(status, lines, named)


BAD_ENVIRONMENT = [
    ({"STREAMS_TOPIC_IMBALANSE": "x"}, "did you mean STREAMS_TOPIC_IMBALANCE?"),
    ({"STREAMS_CONNECT_TIMEOUT_S": "soon"}, "STREAMS_CONNECT_TIMEOUT_S"),
    ({"SCHEMA_REGISTRY_URL": "registry:8081"}, "SCHEMA_REGISTRY_URL"),
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
    (
        {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "KAFKA_SSL_CA_LOCATION": "/nowhere/ca.pem"},
        "KAFKA_SSL_CA_LOCATION=/nowhere/ca.pem: no such file",
    ),
]


@pytest.mark.unit
@pytest.mark.parametrize(("environment", "named"), BAD_ENVIRONMENT, ids=lambda v: str(v)[:40])
def test_a_bad_setting_is_one_line_naming_it(
    environment: dict[str, str], named: str, tmp_path: Path
) -> None:
    status, lines = streams("topics", "create", cwd=tmp_path, **environment)

    assert_one_line_error(status, lines, named)


@pytest.mark.unit
def test_documented_variables_of_the_build_and_tests_break_no_command(tmp_path: Path) -> None:
    status, lines = streams(
        "simulate", "flash_crash", "--output", "deltas.jsonl", cwd=tmp_path,
        STREAMS_PURE_PYTHON="1", STREAMS_RECORDINGS=str(tmp_path),
        STREAMS_TEST_CHROMIUM="/usr/bin/chromium",
    )  # fmt: skip

    assert status == 0, lines
    assert (tmp_path / "deltas.jsonl").stat().st_size > 0


BROKEN_INPUTS = {
    "not-utf8.csv": (HEADER + ROW + "bybit,BTC\xff\n").encode("latin-1"),
    "long-field.csv": (HEADER + "x" * 200_000 + ",y\n").encode(),
    "open-quote.csv": (HEADER + ROW + '"bybit,BTCUSDT,1,1,false,bid,1,1\n' + ROW).encode(),
    "truncated.csv.gz": gzip.compress((HEADER + ROW * 5000).encode())[:-200],
    "corrupt.csv.gz": (lambda data: data[:30] + bytes(60) + data[90:])(
        gzip.compress((HEADER + ROW * 5000).encode())
    ),
}
EXPECTED = {
    "not-utf8.csv": "not-utf8.csv:3: not UTF-8",
    "long-field.csv": "long-field.csv:2: a field longer than",
    "open-quote.csv": "open-quote.csv:3: unterminated quote",
    "truncated.csv.gz": "truncated gzip",
    "corrupt.csv.gz": "corrupt gzip",
}


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(BROKEN_INPUTS))
def test_a_broken_input_file_is_one_line_and_leaves_no_output(name: str, tmp_path: Path) -> None:
    (tmp_path / name).write_bytes(BROKEN_INPUTS[name])
    kept = tmp_path / "kept.jsonl"
    kept.write_text("an earlier run's output\n")

    status, lines = streams(
        "compute", "--source", f"tardis:{name}", "--output", "new.jsonl",
        "--suggestions", "kept.jsonl", cwd=tmp_path,
    )  # fmt: skip

    assert_one_line_error(status, lines, EXPECTED[name])
    assert not (tmp_path / "new.jsonl").exists()
    assert kept.read_text() == "an earlier run's output\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == sorted(
        [name, "kept.jsonl"]
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "arguments",
    [
        ["replay", "--from", "1", "--to", "2"],
        ["topics", "create"],
        ["simulate", "flash_crash", "--publish"],
        ["dashboard", "--port", "0"],
    ],
    ids=lambda a: a[0],
)
def test_an_unreachable_broker_is_one_line_with_the_address_and_the_wait(
    arguments: list[str], closed_port: int, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{closed_port}"

    status, lines = streams(
        *arguments, cwd=tmp_path, KAFKA_BOOTSTRAP_SERVERS=address, STREAMS_CONNECT_TIMEOUT_S="1"
    )

    assert_one_line_error(status, lines, f"Kafka at {address} unreachable after ")


@pytest.mark.integration
def test_an_unreachable_registry_is_one_line_with_the_address_and_the_wait(
    kafka_bootstrap: str, closed_port: int, tmp_path: Path
) -> None:
    registry = f"http://127.0.0.1:{closed_port}"

    status, lines = streams(
        "simulate", "flash_crash", "--publish", cwd=tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, SCHEMA_REGISTRY_URL=registry,
        STREAMS_CONNECT_TIMEOUT_S="1",
    )  # fmt: skip

    assert_one_line_error(status, lines, f"schema registry {registry}, after ")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["dashboard", "--port", "{port}"], "--port"),
        (["worker", "--web-port", "{port}"], "--web-port"),
        (["sink", "parquet", "--path", ".", "--web-port", "{port}"], "--web-port"),
        (["connect", "KRAKEN", "--symbols", "XBT/USD", "--web-port", "{port}"], "--web-port"),
    ],
    ids=lambda a: a[0] if isinstance(a, list) else a,
)
def test_a_port_in_use_is_one_line_naming_the_option(
    arguments: list[str], option: str, busy_port: int, tmp_path: Path
) -> None:
    filled = [argument.format(port=busy_port) for argument in arguments]

    status, lines = streams(*filled, cwd=tmp_path)

    assert_one_line_error(status, lines, f"127.0.0.1:{busy_port} ({option}): already in use")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda: MetricsConfig(ewma_half_life_s=math.nan), "MetricsConfig.ewma_half_life_s"),
        (lambda: MetricsConfig(cost_notionals=(1e4, math.inf)), "MetricsConfig.cost_notionals"),
        (lambda: MetricsConfig(max_levels=5), "MetricsConfig.max_levels"),
        (lambda: MetricsConfig(depth_z_band_bps=30), "MetricsConfig.depth_z_band_bps"),
        (lambda: WorkerConfig(batch_size=0), "WorkerConfig.batch_size"),
        (lambda: WorkerConfig(batch_within_s=-0.5), "WorkerConfig.batch_within_s"),
        (lambda: WorkerConfig(session_timeout_s=math.nan), "WorkerConfig.session_timeout_s"),
        (lambda: Settings(connect_timeout_s=0), "STREAMS_CONNECT_TIMEOUT_S"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_an_invalid_config_value_is_a_project_error_naming_the_field(
    build: Callable[[], object], named: str
) -> None:
    with pytest.raises(StreamsError) as raised:
        build()

    message = str(raised.value)
    assert named in message
    assert "\n" not in message
