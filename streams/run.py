"""`streams run` / `streams demo`: every role on one machine, then a summary and an audit.

Roles run as the same child processes a deployment runs (replay servers standing in for venues,
`streams connect`, `streams worker`, `streams sink parquet`), so the laptop run exercises the real
shells end to end. It starts the local KRaft broker when no cluster is configured. The run ends
when the feeds have been quiet for `idle_s`, the worker has committed every input offset and the
sink every output offset; then it prints a per-instrument summary and audits the whole range.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import TopicPartition

from streams.broker import configured_or_local, free_port
from streams.config import Settings
from streams.exceptions import StreamsError
from streams.transport import create_topics, make_consumer, topic_specs

__all__ = ["DEMO_FEEDS", "Feed", "RunConfig", "RunSummary", "run_all"]

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo" / "recordings"


@dataclass(frozen=True, slots=True)
class Feed:
    """One venue recording served by the replay server, and the symbols to subscribe."""

    venue: str
    recording: Path
    symbols: tuple[str, ...]


DEMO_FEEDS = (
    Feed("KRAKEN", DEMO_DIR / "KRAKEN.ws.50.0", ("XBT/CHF", "ETH/CHF", "XMR/USD", "ADA/XBT")),
    Feed("OKX", DEMO_DIR / "OKX.ws.1.0", ("BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP")),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    feeds: tuple[Feed, ...] = DEMO_FEEDS
    output: Path = Path("streams-output")
    partitions: int = 4
    idle_s: float = 8.0
    timeout_s: float = 600.0
    frame_interval_s: float = 0.0005
    # A simulated stress episode (exchange "sim") published beside the real feeds, so the run shows
    # the breaker at work: the bundled recordings are ~30 s long, shorter than the breaker warm-up.
    stress_scenario: str | None = "flash_crash"
    config_path: Path | None = None  # TOML of metrics, breaker and tiers (None: defaults)


@dataclass(slots=True)
class InstrumentSummary:
    records: int = 0
    mean_queue_imbalance: float = 0.0
    min_queue_imbalance: float = 0.0
    max_queue_imbalance: float = 0.0
    suggestions: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class RunSummary:
    deltas: int
    instruments: dict[str, InstrumentSummary]
    parquet: Path
    report: Path | None
    audit_differences: int

    def table(self) -> str:
        lines = [
            f"{'instrument':<28} {'records':>8} {'mean QI':>8} {'min QI':>8} {'max QI':>8}"
            "  suggestions",
        ]
        for name, s in sorted(self.instruments.items()):
            actions = ", ".join(f"{a} x{n}" for a, n in sorted(s.suggestions.items())) or "-"
            lines.append(
                f"{name:<28} {s.records:>8} {s.mean_queue_imbalance:>8.3f} "
                f"{s.min_queue_imbalance:>8.3f} {s.max_queue_imbalance:>8.3f}  {actions}"
            )
        return "\n".join(lines)


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment that points a child process at the same broker, registry and topics."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_bootstrap(),
        "SCHEMA_REGISTRY_URL": settings.schema_registry_url,
        "STREAMS_TOPIC_BOOK_DELTAS": settings.topics.book_deltas,
        "STREAMS_TOPIC_IMBALANCE": settings.topics.imbalance,
        "STREAMS_TOPIC_SUGGESTIONS": settings.topics.suggestions,
        "STREAMS_TOPIC_DEAD_LETTER": settings.topics.dead_letter,
    }


def _wait(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise StreamsError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


class _Children:
    """Child processes with their logs; stopped with SIGTERM (then SIGKILL) in reverse order."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopped: set[int] = set()

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(  # cwd: Faust keeps its data directory there
                [sys.executable, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.logs,
            )
        self.started.append((name, process))
        return process

    def check(self) -> bool:
        """Raise if a child we did not stop has failed; True otherwise (usable in conditions)."""
        for name, process in self.started:
            if process.pid not in self.stopped and process.poll() not in (None, 0):
                raise StreamsError(
                    f"{name} exited with {process.returncode}: see {self.logs}/{name}.log"
                )
        return True

    def stop(self, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
        self.stopped.add(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for _, process in reversed(self.started):
            self.stop(process, 30)


def _high_watermarks(settings: Settings, topic: str) -> dict[int, int]:
    consumer = make_consumer(settings, "streams-run-watermarks")
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics[topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in sorted(metadata.partitions)
        }
    finally:
        consumer.close()


def _committed_all(settings: Settings, group: str, topic: str) -> bool:
    high = _high_watermarks(settings, topic)
    consumer = make_consumer(settings, group)
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in high], timeout=30)
    finally:
        consumer.close()
    done = {tp.partition: tp.offset for tp in committed}
    return all(h == 0 or done.get(p, -1) >= h for p, h in high.items())


APP_ID = "streams-run"
SINK_GROUP = "streams-run-sink"
CLI = ("-m", "streams.cli")


def run_all(settings: Settings, config: RunConfig) -> RunSummary:
    output = config.output.resolve()
    logs = output / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        settings = stack.enter_context(configured_or_local(settings, output / "kafka"))
        _create_run_topics(settings, config.partitions)
        children = _Children(child_environment(settings), logs)
        stack.callback(children.stop_all)
        worker, sink = _start_processing(children, config, output)
        feeds = _start_feeds(children, config)
        if config.stress_scenario:
            _publish_scenario(settings, config.stress_scenario)
        _wait_until_quiet(settings, children, config)
        for server, connector in feeds:
            children.stop(connector)
            children.stop(server)
        deltas = sum(_high_watermarks(settings, settings.topics.book_deltas).values())
        print(
            f"{deltas} book deltas published; waiting for the worker and the sink", file=sys.stderr
        )
        _wait_until_stored(settings, children, config.timeout_s)
        children.stop(worker)
        children.stop(sink)
        instruments = _summarise(output / "parquet")
        report, differences = _audit(settings, output / "report", config.config_path)
    return RunSummary(deltas, instruments, output / "parquet", report, differences)


def _create_run_topics(settings: Settings, partitions: int) -> None:
    """The topics, keeping records regardless of age: recordings carry event times years ago."""
    specs = [
        dataclasses.replace(spec, config={**spec.config, "retention.ms": "-1"})
        for spec in topic_specs(settings.topics, partitions=partitions)
    ]
    create_topics(settings, specs)


def _start_processing(
    children: _Children, config: RunConfig, output: Path
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """The worker and the Parquet sink, before any delta is published."""
    worker = children.start(
        "worker", *CLI, "worker", "--app-id", APP_ID, "--web-port", str(free_port()),
        "--partitions", str(config.partitions),
        *(("--config", str(config.config_path)) if config.config_path else ()),
    )  # fmt: skip
    sink = children.start(
        "sink", *CLI, "sink", "parquet", "--path", str(output / "parquet"),
        "--group-id", SINK_GROUP,
    )  # fmt: skip
    return worker, sink


def _start_feeds(
    children: _Children, config: RunConfig
) -> list[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """For each feed a replay server of its recording and a connector to it: (server, connector)."""
    feeds = []
    for feed in config.feeds:
        port = free_port()
        server = children.start(
            f"replay-{feed.venue.lower()}", *CLI, "fake-exchange",
            feed.venue, str(feed.recording), "--port", str(port),
            "--interval", str(config.frame_interval_s),
        )  # fmt: skip
        _wait(lambda p=port: _listening(p), 30, f"the {feed.venue} replay server")  # type: ignore[misc]
        connector = children.start(
            f"connect-{feed.venue.lower()}", *CLI, "connect", feed.venue,
            "--symbols", ",".join(feed.symbols),
            "--url-override", f"ws://127.0.0.1:{port}/ws",
            "--rest-override", f"http://127.0.0.1:{port}",
        )  # fmt: skip
        feeds.append((server, connector))
        print(f"feeding {feed.venue} {', '.join(feed.symbols)}", file=sys.stderr)
    return feeds


def _wait_until_stored(settings: Settings, children: _Children, timeout_s: float) -> None:
    """Until the worker committed every delta and the sink every output (a child dying fails)."""
    deltas_topic = settings.topics.book_deltas
    _wait(
        lambda: children.check() and _committed_all(settings, APP_ID, deltas_topic),
        timeout_s, "the worker to process every delta",
    )  # fmt: skip
    _wait(
        lambda: children.check() and all(
            _committed_all(settings, SINK_GROUP, t)
            for t in (settings.topics.imbalance, settings.topics.suggestions)
        ),
        timeout_s, "the sink to store every output",
    )  # fmt: skip


def _publish_scenario(settings: Settings, name: str) -> None:
    from streams.codec import TopicCodecs
    from streams.simulate.scenarios import run_scenario
    from streams.transport import DeltaPublisher

    publisher = DeltaPublisher(settings, TopicCodecs.register(settings))
    count = publisher.publish_many(run_scenario(name, seed=1))
    publisher.flush()
    print(f"feeding simulated {name} ({count} deltas, exchange sim)", file=sys.stderr)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_until_quiet(settings: Settings, children: _Children, config: RunConfig) -> int:
    """Wait until the input topic has records and has stopped growing for `idle_s`."""
    deadline = time.monotonic() + config.timeout_s
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        children.check()
        total = sum(_high_watermarks(settings, settings.topics.book_deltas).values())
        now = time.monotonic()
        if total != last:
            last, quiet_since = total, now
        elif total > 0 and now - quiet_since >= config.idle_s:
            return total
        time.sleep(1.0)
    raise StreamsError(f"the feeds did not finish within {config.timeout_s:.0f} s")


def _summarise(parquet: Path) -> dict[str, InstrumentSummary]:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    summaries: dict[str, InstrumentSummary] = {}
    imbalance_dir = parquet / "imbalance"
    if imbalance_dir.exists():
        table = ds.dataset(imbalance_dir, partitioning="hive").to_table(
            columns=["exchange", "symbol", "queue_imbalance"]
        )
        for exchange, symbol in sorted(set(zip(
            table["exchange"].to_pylist(), table["symbol"].to_pylist(), strict=True
        ))):  # fmt: skip
            mask = pc.and_(pc.equal(table["exchange"], exchange), pc.equal(table["symbol"], symbol))
            values = table.filter(mask)["queue_imbalance"]
            summaries[f"{exchange}:{symbol}"] = InstrumentSummary(
                records=len(values),
                mean_queue_imbalance=pc.mean(values).as_py(),
                min_queue_imbalance=pc.min(values).as_py(),
                max_queue_imbalance=pc.max(values).as_py(),
            )
    suggestions_dir = parquet / "suggestions"
    if suggestions_dir.exists():
        table = ds.dataset(suggestions_dir, partitioning="hive").to_table(
            columns=["exchange", "symbol", "action"]
        )
        for exchange, symbol, action in zip(
            table["exchange"].to_pylist(), table["symbol"].to_pylist(),
            table["action"].to_pylist(), strict=True,
        ):  # fmt: skip
            entry = summaries.setdefault(f"{exchange}:{symbol}", InstrumentSummary())
            entry.suggestions[action] = entry.suggestions.get(action, 0) + 1
    return summaries


def _audit(
    settings: Settings, report_dir: Path, config_path: Path | None
) -> tuple[Path | None, int]:
    from streams.audit.audit import run_audit
    from streams.audit.replay import ReplayRequest
    from streams.config import load_pipeline_config

    outcome = run_audit(
        settings, ReplayRequest(start_us=0, end_us=2**62), load_pipeline_config(config_path),
        report_dir=report_dir,
    )  # fmt: skip
    differences = sum(
        len(c.differences) + sum(c.other_config.values())
        for c in (outcome.imbalance, outcome.suggestions)
    )
    return outcome.report, differences
