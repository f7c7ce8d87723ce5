"""The one entry point: `streams <command>`. Thin: parses arguments, builds settings, delegates.

Every expected failure (bad configuration, unreachable broker, missing Java/Maven, malformed
input) ends with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, NoReturn

from confluent_kafka import KafkaException

from streams.arguments import (
    ensure_port_free,
    port_number,
    positive_float,
    positive_int,
    url,
)
from streams.config import ENVIRONMENT, TOOLING_ENVIRONMENT, Settings, load_pipeline_config
from streams.exceptions import StreamsError
from streams.operations import HealthServer, logging_config, redact_in_logs

if TYPE_CHECKING:
    from streams.audit.replay import ReplayRequest
    from streams.connectors.session import Connector
    from streams.core.pipeline_config import PipelineConfig
    from streams.sinks.runner import SinkRunner

__all__ = ["COMMANDS", "main"]

Handler = Callable[[argparse.Namespace, Settings], int]
SINK_STALL_S = 120.0  # a sink loop that has not polled for this long fails its liveness probe


def _config_path(args: argparse.Namespace, settings: Settings) -> str | None:
    """--config, else STREAMS_CONFIG, else None (the built-in defaults)."""
    path = getattr(args, "config", None) or settings.config_path
    return str(path) if path else None


def pipeline_config(args: argparse.Namespace, settings: Settings) -> PipelineConfig:
    return load_pipeline_config(_config_path(args, settings))


def _config(args: argparse.Namespace, settings: Settings) -> int:
    from streams.config import render_pipeline_config

    path = args.path or _config_path(args, settings)
    config = load_pipeline_config(path)
    if args.action == "check":
        print(f"{path or 'defaults'}: ok, config_hash {config.config_hash()}")
    else:
        source = f"defaults + {path}" if path else "defaults"
        print(render_pipeline_config(config, source), end="")
    return 0


def _health_server(host: str, port: int) -> HealthServer | None:
    """/metrics, /healthz and /readyz for roles that are not Faust apps (port 0: none)."""
    return HealthServer(host, port).start() if port else None


def _broker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.broker import LocalBroker

    broker = LocalBroker(settings.home, settings.kafka_version)
    if args.action == "start":
        print(broker.start(heap_mb=args.heap_mb).bootstrap_servers)
    elif args.action == "stop":
        print("stopped" if broker.stop() else "not running")
    else:
        state = broker.status()
        if state is None:
            print("not running")
            return 1
        print(f"running pid={state.pid} bootstrap={state.bootstrap_servers} log={state.log_file}")
    return 0


def resolve_settings(settings: Settings) -> Settings:
    """Point settings at KAFKA_BOOTSTRAP_SERVERS, else at the running local broker; check it.

    The check comes before any client exists: their retries would log a line per attempt.
    """
    from streams.transport import ensure_reachable

    if not settings.bootstrap_servers:
        from streams.broker import LocalBroker

        state = LocalBroker(settings.home, settings.kafka_version).status()
        if state is None:
            raise StreamsError(
                "no Kafka cluster: set KAFKA_BOOTSTRAP_SERVERS or run `streams broker start`"
            )
        settings = settings.with_bootstrap(state.bootstrap_servers)
    ensure_reachable(settings)
    return settings


def _topics(args: argparse.Namespace, settings: Settings) -> int:
    from streams.transport import create_topics, topic_specs

    settings = resolve_settings(settings)
    specs = topic_specs(settings.topics, partitions=args.partitions)
    outcome = create_topics(settings, specs, replication_factor=args.replication_factor)
    for name in sorted(outcome):
        print(f"{name}: {outcome[name]}")
    return 0


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    from streams.codec import TopicCodecs
    from streams.sources.spec import open_source
    from streams.transport import DeltaPublisher

    settings = resolve_settings(settings)
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings), args.topic)
    deltas = open_source(args.source, args.instruments)
    count = publisher.publish_many(delta for delta, _ in deltas)
    publisher.flush()
    print(f"published {count} book deltas to {publisher.topic}", file=sys.stderr)
    return 0


def _connect(args: argparse.Namespace, settings: Settings) -> int:
    from streams.connectors.session import ConnectorConfig, run_connector

    config = ConnectorConfig(
        venue=args.venue,
        symbols=tuple(symbol.strip() for symbol in args.symbols.split(",")),
        topic=args.topic,
        url_override=args.url_override,
        rest_override=args.rest_override,
        stale_after_s=args.stale_after,
    )
    ensure_port_free(args.web_host, args.metrics_port, "--web-port")
    settings = resolve_settings(settings)
    health = _health_server(args.web_host, args.metrics_port)

    def started(connector: Connector, loop: asyncio.AbstractEventLoop) -> None:
        from streams.operations import event_loop_alive

        if health is not None:  # ready: every connection up, every book synced since its resync
            health.bind(
                live=lambda: event_loop_alive(loop), ready=lambda: connector.synced,
                detail=lambda: {"venue": connector.venue, **asdict(connector.counters)},
            )  # fmt: skip

    counters = run_connector(settings, config, started)
    print(f"connect {args.venue.upper()}: {counters}", file=sys.stderr)
    return 0


def _compute(args: argparse.Namespace, settings: Settings) -> int:
    from streams.offline import compute_to_files

    summary = compute_to_files(
        args.source, args.output, args.suggestions, pipeline_config(args, settings),
        args.instruments,
    )  # fmt: skip
    print(summary, file=sys.stderr)
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import mode.loop

    # Faust's per-message work is event-loop bound: uvloop cuts the worker's CPU per message by
    # about 16 % (docs/workers.md). Set before anything creates a loop.
    mode.loop.use("uvloop")
    from faust.worker import Worker

    from streams.agents.app import WorkerConfig, build_app
    from streams.core.pipeline import Pipeline
    from streams.transport import create_topics, partition_count, topic_specs

    core_config = pipeline_config(args, settings)  # a bad file fails before any connection
    config = WorkerConfig(
        app_id=args.app_id,
        partitions=args.partitions,
        batch_size=args.batch_size,
        batch_within_s=args.batch_within_ms / 1000,
        checkpoint_every=args.checkpoint_every,
        web_host=args.web_host,
        web_port=args.web_port,
        processing_guarantee=args.processing_guarantee,
    )
    ensure_port_free(config.web_host, config.web_port, "--web-port")
    settings = resolve_settings(settings)
    create_topics(settings, topic_specs(settings.topics, partitions=args.partitions))
    config = replace(config, partitions=partition_count(settings, settings.topics.book_deltas))
    app = build_app(settings, config, Pipeline(core_config.metrics, core_config.breaker))
    level = "INFO" if not args.verbose else "DEBUG"
    Worker(
        app, loglevel=level, quiet=True, logging_config=logging_config(settings.log_format, level)
    ).execute_from_commandline()
    return 0


def parse_time(text: str) -> int:
    """ISO-8601 (`2021-10-12T00:28:00Z`) or epoch seconds/ms/µs, to epoch microseconds."""
    from datetime import UTC, datetime

    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as error:
            raise StreamsError(f"not a time: {text!r} (ISO-8601 or epoch)") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1_000_000)
    if not abs(number) < 1e19:  # beyond int64 microseconds, infinite or NaN
        raise StreamsError(f"not a time: {text!r} (ISO-8601 or epoch)")
    if number > 1e14:
        return int(number)  # already microseconds
    if number > 1e11:
        return int(number * 1_000)  # milliseconds
    return int(number * 1_000_000)


def _replay_request(args: argparse.Namespace) -> ReplayRequest:
    from streams.audit.replay import ReplayRequest

    instruments = frozenset(args.instrument) if args.instrument else None
    return ReplayRequest(
        start_us=parse_time(args.start), end_us=parse_time(args.end), instruments=instruments
    )


def _progress_bar() -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar = tqdm(unit="rec", unit_scale=True, file=sys.stderr, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from streams.audit.replay import replay
    from streams.offline import atomic_text_file, dump_record

    request = _replay_request(args)  # a bad time fails before anything connects
    core_config = pipeline_config(args, settings)
    settings = resolve_settings(settings)
    result = replay(settings, request, core_config, progress=_progress_bar())
    if args.to_topics:
        from streams.codec import TopicCodecs
        from streams.transport import KafkaOutputSink

        replay_topics = settings.topics.replay()
        codecs = TopicCodecs.register(settings, replay_topics)
        sink = KafkaOutputSink(settings)
        for record in result.imbalance:
            key = f"{record['exchange']}:{record['symbol']}".encode()
            sink.produce(replay_topics.imbalance, key, codecs.imbalance.encode(record))
        for record in result.suggestions:
            key = f"{record['exchange']}:{record['symbol']}".encode()
            sink.produce(replay_topics.suggestions, key, codecs.suggestion.encode(record))
        sink.flush()
    else:
        output = Path(args.output)
        output.mkdir(parents=True, exist_ok=True)
        for name, records in (("imbalance", result.imbalance), ("suggestions", result.suggestions)):
            with atomic_text_file(output / f"{name}.jsonl") as file:
                file.writelines(dump_record(record) + "\n" for record in records)
    print(
        f"replayed {result.records_read} records ({result.records_per_second:,.0f}/s): "
        f"{len(result.imbalance)} imbalance, {len(result.suggestions)} suggestions",
        file=sys.stderr,
    )
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from streams.audit.audit import run_audit

    request = _replay_request(args)
    core_config = pipeline_config(args, settings)
    settings = resolve_settings(settings)
    outcome = run_audit(
        settings, request, core_config,
        report_dir=Path(args.report) if args.report else None, progress=_progress_bar(),
    )  # fmt: skip
    if outcome.config_mismatch():
        raise StreamsError(outcome.config_mismatch())
    for comparison in (outcome.imbalance, outcome.suggestions):
        print(
            f"{comparison.topic}: replayed {comparison.replayed}, live {comparison.live}, "
            f"matched {comparison.matched}, differences {len(comparison.differences)}"
        )
        for difference in comparison.differences:
            print(f"  {difference.describe()}")
        for other, count in sorted(comparison.other_config.items()):
            print(f"  {count} live records of config_hash {other} not compared "
                  f"(this audit: {outcome.config_hash})")  # fmt: skip
    replayed = outcome.replay
    print(f"replay: {replayed.records_read} records in {replayed.seconds:.2f} s "
          f"({replayed.records_per_second:,.0f}/s)")  # fmt: skip
    if outcome.report is not None:
        print(f"report: {outcome.report}")
    return 0 if outcome.ok else 1


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from streams.config import Secret
    from streams.sinks.runner import SinkConfig
    from streams.sinks.service import make_writer, run_sink

    dsn = args.dsn or os.environ.get("POSTGRES_DSN")  # prefer the variable: argv shows in `ps`
    if dsn:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            password = conninfo_to_dict(dsn).get("password")
        except psycopg.ProgrammingError as error:  # its message never repeats the DSN
            raise StreamsError(f"--dsn or POSTGRES_DSN is not a libpq DSN: {error}") from None
        redact_in_logs(dsn, str(password or ""))
    writer = make_writer(args.target, path=args.path, dsn=Secret(dsn) if dsn else None)
    config = SinkConfig(
        group_id=args.group_id or f"streams-sink-{args.target}",
        batch_size=args.batch_size, batch_seconds=args.batch_seconds,
    )  # fmt: skip
    ensure_port_free(args.web_host, args.web_port, "--web-port")
    settings = resolve_settings(settings)
    health = _health_server(args.web_host, args.web_port)

    def started(runner: SinkRunner) -> None:
        if health is not None:  # live: the loop polls every 0.5 s; ready: the target takes writes
            health.bind(
                live=lambda: time.monotonic() - runner.polled_at < SINK_STALL_S,
                ready=lambda: not runner.backing_off,
                detail=lambda: {"sink": writer.name, **asdict(runner.stats)},
            )  # fmt: skip

    run_sink(settings, writer, config, started)
    return 0


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from streams.simulate.command import main_simulate

    return main_simulate(args, resolve_settings(settings) if args.publish else settings)


def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from streams.dashboard.command import main_dashboard

    ensure_port_free(args.host, args.port, "--port")
    return main_dashboard(args, resolve_settings(settings))


def _fake_exchange(args: argparse.Namespace, settings: Settings) -> int:
    from streams.fake_exchange.command import main_fake_exchange

    ensure_port_free("127.0.0.1", args.port, "--port")
    return main_fake_exchange(args)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from streams.run import RunConfig, run_all

    path = _config_path(args, settings)
    load_pipeline_config(path)  # a bad file fails here, not in a child process
    summary = run_all(
        settings,
        RunConfig(output=Path(args.output), partitions=args.partitions,
                  config_path=Path(path).resolve() if path else None),
    )  # fmt: skip
    print(summary.table())
    print(f"\n{summary.deltas} book deltas; Parquet dataset: {summary.parquet}")
    print(f"audit: {summary.audit_differences} differences; report: {summary.report}")
    return 0 if summary.audit_differences == 0 else 1


COMMANDS: dict[str, Handler] = {
    "run": _run,
    "demo": _run,
    "broker": _broker,
    "topics": _topics,
    "publish": _publish,
    "compute": _compute,
    "worker": _worker,
    "replay": _replay,
    "audit": _audit,
    "connect": _connect,
    "sink": _sink,
    "simulate": _simulate,
    "dashboard": _dashboard,
    "fake-exchange": _fake_exchange,
    "config": _config,
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (the usage block is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=None, metavar="PATH",
        help="TOML file of metrics, breaker and tiers (default: STREAMS_CONFIG, else built-ins)",
    )  # fmt: skip


def _instruments_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instruments", default=None, metavar="FILE",
        help="contract specs (JSON, like streams/venues/instruments.json): sizes become base "
        "units; raw inputs use the bundled snapshot too, tardis inputs only this file",
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="streams",
        description="Order-book liquidity imbalance and circuit-breaker suggestions on Kafka.",
        epilog="Environment: "
        + "; ".join(f"{k} ({v})" for k, v in ENVIRONMENT.items())
        + ". Read by the build and the tests only: "
        + "; ".join(f"{k} ({v})" for k, v in TOOLING_ENVIRONMENT.items())
        + "; STREAMS_TEST_* (tests/).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    broker = sub.add_parser("broker", help="run a local single-node Kafka (KRaft) from Maven jars")
    broker.add_argument("action", choices=["start", "stop", "status"])
    broker.add_argument("--heap-mb", type=positive_int, default=512)

    for name, text in (
        ("run", "every role in one go on this machine (local broker unless one is configured)"),
        ("demo", "`run` on the bundled real exchange recordings (demo/recordings)"),
    ):
        run = sub.add_parser(name, help=text)
        run.add_argument("--output", default="streams-output", help="Parquet, logs, report")
        run.add_argument("--partitions", type=positive_int, default=4)
        _config_argument(run)

    topics = sub.add_parser("topics", help="create the product's topics (idempotent)")
    topics.add_argument("action", choices=["create"])
    topics.add_argument("--partitions", type=positive_int, default=4)
    topics.add_argument("--replication-factor", type=positive_int, default=1)

    publish = sub.add_parser("publish", help="publish a recording into Kafka as book deltas")
    publish.add_argument("--source", required=True, help="tardis:PATH or raw:VENUE:PATH")
    publish.add_argument("--topic", default=None, help="default: STREAMS_TOPIC_BOOK_DELTAS")
    _instruments_argument(publish)

    compute = sub.add_parser("compute", help="offline: book deltas -> imbalance (+ suggestions)")
    compute.add_argument("--source", required=True, help="tardis:PATH or raw:VENUE:PATH")
    compute.add_argument("--output", required=True, help="imbalance records, JSON lines")
    compute.add_argument("--suggestions", default=None, help="suggestion records, JSON lines")
    _config_argument(compute)
    _instruments_argument(compute)

    connect = sub.add_parser("connect", help="live L2 books from a venue into Kafka")
    connect.add_argument("venue", help="BINANCE, KRAKEN, OKX, ... (see docs/connectors.md)")
    connect.add_argument("--symbols", required=True, help="A,B as the venue spells them")
    connect.add_argument("--topic", default=None, help="default: STREAMS_TOPIC_BOOK_DELTAS")
    connect.add_argument(
        "--url-override", type=url("ws", "wss"), default=None, help="websocket URL (replay server)"
    )
    connect.add_argument(
        "--rest-override", type=url("http", "https"), default=None,
        help="scheme://host:port for REST",
    )  # fmt: skip
    connect.add_argument(
        "--stale-after", type=positive_float, default=30.0, help="watchdog seconds"
    )
    connect.add_argument("--web-host", default="127.0.0.1", help="0.0.0.0 in a container")
    connect.add_argument("--web-port", "--metrics-port", dest="metrics_port", type=port_number,
                         default=0, help="/metrics, /healthz, /readyz (0: off)")  # fmt: skip

    worker = sub.add_parser("worker", help="run a Faust stream worker (scale out: run more)")
    worker.add_argument(
        "--app-id", default="streams-worker", help="consumer group and table prefix"
    )
    worker.add_argument(
        "--partitions", type=positive_int, default=4, help="partitions if topics are created"
    )
    worker.add_argument("--batch-size", type=positive_int, default=2000)
    worker.add_argument(
        "--batch-within-ms", type=positive_float, default=20.0,
        help="close a batch after this long even if not full (latency vs per-batch cost)",
    )  # fmt: skip
    worker.add_argument(
        "--checkpoint-every", type=positive_int, default=5000, help="records per partition"
    )
    worker.add_argument("--web-host", default="127.0.0.1")
    worker.add_argument(
        "--web-port", type=port_number, default=6066, help="/metrics, /healthz, /readyz"
    )
    worker.add_argument(
        "--processing-guarantee", choices=["at_least_once", "exactly_once"], default="at_least_once"
    )
    _config_argument(worker)

    for name, text in (
        ("replay", "recompute outputs for a time range (never writes the live topics)"),
        ("audit", "replay a time range and compare with the live topics (exit 1 on mismatch)"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--from", dest="start", required=True, help="ISO-8601 or epoch")
        command.add_argument("--to", dest="end", required=True, help="ISO-8601 or epoch")
        command.add_argument("--instrument", action="append", help="EXCHANGE:SYMBOL (repeatable)")
        _config_argument(command)
        if name == "replay":
            target = command.add_mutually_exclusive_group()
            target.add_argument(
                "--output", default="replay-output", help="directory for JSON lines"
            )
            target.add_argument("--to-topics", action="store_true", help="write replay.* topics")
        else:
            command.add_argument("--report", default=None, help="directory for the HTML report")
    config = sub.add_parser("config", help="print or validate the metrics/breaker configuration")
    config.add_argument("action", choices=["show", "check"], help="show: effective TOML + hash")
    config.add_argument("path", nargs="?", default=None, help="file (default: --config)")
    _config_argument(config)
    sink = sub.add_parser("sink", help="persist imbalance and suggestions (Parquet, PostgreSQL)")
    sink.add_argument("target", choices=["parquet", "postgres"])
    sink.add_argument("--path", help="parquet: root directory of the dataset")
    sink.add_argument("--dsn", help="postgres: libpq DSN (default: POSTGRES_DSN)")
    sink.add_argument("--group-id", default=None, help="default: streams-sink-<target>")
    sink.add_argument("--batch-size", type=positive_int, default=20_000, help="records per write")
    sink.add_argument(
        "--batch-seconds", type=positive_float, default=2.0, help="max wait per batch"
    )
    sink.add_argument("--web-host", default="127.0.0.1", help="0.0.0.0 in a container")
    sink.add_argument("--web-port", type=port_number, default=0, help="health and metrics (0: off)")
    from streams.simulate.command import add_arguments as simulate_arguments

    simulate_arguments(sub.add_parser("simulate", help="stress-scenario book deltas (file/Kafka)"))
    from streams.dashboard.command import add_arguments as dashboard_arguments

    dashboard_arguments(sub.add_parser("dashboard", help="live web view of the output topics"))
    from streams.fake_exchange.command import add_arguments as fake_exchange_arguments

    fake_exchange_arguments(
        sub.add_parser("fake-exchange", help="serve a recording as the venue, with faults (tests)")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
        redact_in_logs(*settings.secret_values())
        level = "DEBUG" if args.verbose else "INFO"
        logging.config.dictConfig(logging_config(settings.log_format, level))
        return COMMANDS[args.command](args, settings)
    except (StreamsError, KafkaException, OSError) as error:
        # a KeyError's str() is the repr of its message, a KafkaException's that of a KafkaError
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        if isinstance(error, KafkaException) and hasattr(error.args[0], "str"):
            message = error.args[0].str()
        one_line = " ".join(str(message).split("\n")).strip()  # libraries end theirs with "\n"
        print(f"streams: error: {one_line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
