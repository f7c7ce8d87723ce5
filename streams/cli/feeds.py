"""Commands that bring book deltas in: `publish` a file, `connect` a venue, `compute` offline."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

from streams.arguments import ensure_port_free, port_number, positive_float, url
from streams.cli.common import (
    Command,
    config_argument,
    health_server,
    instruments_argument,
    pipeline_config,
    resolve_settings,
)
from streams.config import Settings

if TYPE_CHECKING:
    from streams.connectors.session import Connector

__all__ = ["COMMANDS"]


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="tardis:PATH or raw:VENUE:PATH")
    parser.add_argument("--topic", default=None, help="default: STREAMS_TOPIC_BOOK_DELTAS")
    instruments_argument(parser)


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    from streams.codec import TopicCodecs
    from streams.sources.raw import Rejects
    from streams.sources.spec import open_source
    from streams.transport import DeltaPublisher

    settings = resolve_settings(settings)
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings), args.topic)
    rejects = Rejects()
    deltas = open_source(args.source, args.instruments, rejects)
    count = publisher.publish_many(delta for delta, _ in deltas)
    publisher.flush()
    print(f"published {count} book deltas to {publisher.topic}", file=sys.stderr)
    if publisher.oversized:
        print(f"dead-lettered {publisher.oversized} deltas over the message size limit",
              file=sys.stderr)  # fmt: skip
    if rejects.count:
        print(f"REFUSED {rejects.count} malformed input frames, e.g.", *rejects.examples,
              sep="\n  ", file=sys.stderr)  # fmt: skip
    return 1 if rejects.count or publisher.oversized else 0


def _connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("venue", help="BINANCE, KRAKEN, OKX, ... (see docs/connectors.md)")
    parser.add_argument("--symbols", required=True, help="A,B as the venue spells them")
    parser.add_argument("--topic", default=None, help="default: STREAMS_TOPIC_BOOK_DELTAS")
    parser.add_argument(
        "--url-override", type=url("ws", "wss"), default=None, help="websocket URL (replay server)"
    )
    parser.add_argument(
        "--rest-override", type=url("http", "https"), default=None,
        help="scheme://host:port for REST",
    )  # fmt: skip
    parser.add_argument("--stale-after", type=positive_float, default=30.0, help="watchdog seconds")
    parser.add_argument("--web-host", default="127.0.0.1", help="0.0.0.0 in a container")
    parser.add_argument("--web-port", "--metrics-port", dest="metrics_port", type=port_number,
                        default=0, help="/metrics, /healthz, /readyz (0: off)")  # fmt: skip


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
    health = health_server(args.web_host, args.metrics_port)

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


def _compute_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="tardis:PATH or raw:VENUE:PATH")
    parser.add_argument("--output", required=True, help="imbalance records, JSON lines")
    parser.add_argument("--suggestions", default=None, help="suggestion records, JSON lines")
    config_argument(parser)
    instruments_argument(parser)


def _compute(args: argparse.Namespace, settings: Settings) -> int:
    from streams.offline import compute_to_files

    summary = compute_to_files(
        args.source, args.output, args.suggestions, pipeline_config(args, settings),
        args.instruments,
    )  # fmt: skip
    print(summary, file=sys.stderr)
    return 1 if summary.rejects.count else 0  # outputs written, but some input was unreadable


COMMANDS = (
    Command("publish", "publish a recording into Kafka as book deltas",
            _publish_arguments, _publish),
    Command("compute", "offline: book deltas -> imbalance (+ suggestions)",
            _compute_arguments, _compute),
    Command("connect", "live L2 books from a venue into Kafka", _connect_arguments, _connect),
)  # fmt: skip
