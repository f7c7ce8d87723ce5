"""The one entry point: `streams <command>`. Thin: parses arguments, builds settings, delegates.

Every expected failure (bad configuration, unreachable broker, missing Java/Maven, malformed
input) ends with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaException

from streams.config import ENVIRONMENT, Settings
from streams.exceptions import StreamsError

__all__ = ["COMMANDS", "main"]

Handler = Callable[[argparse.Namespace, Settings], int]


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
    """Point settings at KAFKA_BOOTSTRAP_SERVERS, else at the running local broker."""
    if settings.bootstrap_servers:
        return settings
    from streams.broker import LocalBroker

    state = LocalBroker(settings.home, settings.kafka_version).status()
    if state is None:
        raise StreamsError(
            "no Kafka cluster: set KAFKA_BOOTSTRAP_SERVERS or run `streams broker start`"
        )
    return settings.with_bootstrap(state.bootstrap_servers)


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
    count = publisher.publish_many(delta for delta, _ in open_source(args.source))
    publisher.flush()
    print(f"published {count} book deltas to {publisher.topic}", file=sys.stderr)
    return 0


def _compute(args: argparse.Namespace, settings: Settings) -> int:
    from streams.offline import compute_to_files

    summary = compute_to_files(args.source, args.output, args.suggestions)
    print(summary, file=sys.stderr)
    return 0


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from streams.simulate.command import main_simulate

    return main_simulate(args, resolve_settings(settings) if args.publish else settings)


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from streams.config import Secret
    from streams.sinks.runner import SinkConfig
    from streams.sinks.service import make_writer, run_sink

    dsn = args.dsn or os.environ.get("POSTGRES_DSN")  # prefer the variable: argv shows in `ps`
    writer = make_writer(args.target, path=args.path, dsn=Secret(dsn) if dsn else None)
    config = SinkConfig(
        group_id=args.group_id or f"streams-sink-{args.target}",
        batch_size=args.batch_size, batch_seconds=args.batch_seconds,
    )  # fmt: skip
    run_sink(resolve_settings(settings), writer, config)
    return 0


COMMANDS: dict[str, Handler] = {
    "broker": _broker,
    "topics": _topics,
    "publish": _publish,
    "compute": _compute,
    "simulate": _simulate,
    "sink": _sink,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streams",
        description="Order-book liquidity imbalance and circuit-breaker suggestions on Kafka.",
        epilog="Environment: " + "; ".join(f"{k} ({v})" for k, v in ENVIRONMENT.items()),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    broker = sub.add_parser("broker", help="run a local single-node Kafka (KRaft) from Maven jars")
    broker.add_argument("action", choices=["start", "stop", "status"])
    broker.add_argument("--heap-mb", type=int, default=512)

    topics = sub.add_parser("topics", help="create the product's topics (idempotent)")
    topics.add_argument("action", choices=["create"])
    topics.add_argument("--partitions", type=int, default=4)
    topics.add_argument("--replication-factor", type=int, default=1)

    publish = sub.add_parser("publish", help="publish a recording into Kafka as book deltas")
    publish.add_argument("--source", required=True, help="tardis:PATH or raw:VENUE:PATH")
    publish.add_argument("--topic", default=None, help="default: STREAMS_TOPIC_BOOK_DELTAS")

    compute = sub.add_parser("compute", help="offline: book deltas -> imbalance (+ suggestions)")
    compute.add_argument("--source", required=True, help="tardis:PATH or raw:VENUE:PATH")
    compute.add_argument("--output", required=True, help="imbalance records, JSON lines")
    compute.add_argument("--suggestions", default=None, help="suggestion records, JSON lines")
    from streams.simulate.command import add_arguments as simulate_arguments

    simulate_arguments(sub.add_parser("simulate", help="stress-scenario book deltas (file/Kafka)"))
    sink = sub.add_parser("sink", help="persist imbalance and suggestions (Parquet, PostgreSQL)")
    sink.add_argument("target", choices=["parquet", "postgres"])
    sink.add_argument("--path", help="parquet: root directory of the dataset")
    sink.add_argument("--dsn", help="postgres: libpq DSN (default: POSTGRES_DSN)")
    sink.add_argument("--group-id", default=None, help="default: streams-sink-<target>")
    sink.add_argument("--batch-size", type=int, default=20_000, help="records per write")
    sink.add_argument("--batch-seconds", type=float, default=2.0, help="max wait per batch")
    from streams.simulate.command import add_arguments as simulate_arguments

    simulate_arguments(sub.add_parser("simulate", help="stress-scenario book deltas (file/Kafka)"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        settings = Settings.from_environment()
        return COMMANDS[args.command](args, settings)
    except (StreamsError, KafkaException, OSError) as error:
        print(f"streams: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
