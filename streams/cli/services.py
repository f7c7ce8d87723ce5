"""The long-running roles of a deployment: the Faust `worker` and the `sink`."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from streams.arguments import ensure_port_free, port_number, positive_float, positive_int
from streams.cli.common import (
    Command,
    config_argument,
    health_server,
    pipeline_config,
    resolve_settings,
)
from streams.config import Settings
from streams.exceptions import StreamsError
from streams.operations import logging_config, redact_in_logs

if TYPE_CHECKING:
    from streams.sinks.runner import SinkRunner

__all__ = ["COMMANDS"]

SINK_STALL_S = 120.0  # a sink loop that has not polled for this long fails its liveness probe


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app-id", default="streams-worker", help="consumer group and table prefix"
    )
    parser.add_argument(
        "--partitions", type=positive_int, default=4, help="partitions if topics are created"
    )
    parser.add_argument("--batch-size", type=positive_int, default=2000)
    parser.add_argument(
        "--batch-within-ms", type=positive_float, default=20.0,
        help="close a batch after this long even if not full (latency vs per-batch cost)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoint-every", type=positive_int, default=5000, help="records per partition"
    )
    parser.add_argument("--web-host", default="127.0.0.1")
    parser.add_argument(
        "--web-port", type=port_number, default=6066, help="/metrics, /healthz, /readyz"
    )
    parser.add_argument(
        "--processing-guarantee", choices=["at_least_once", "exactly_once"], default="at_least_once"
    )
    config_argument(parser)


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


def _sink_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=["parquet", "postgres"])
    parser.add_argument("--path", help="parquet: root directory of the dataset")
    parser.add_argument("--dsn", help="postgres: libpq DSN (default: POSTGRES_DSN)")
    parser.add_argument("--group-id", default=None, help="default: streams-sink-<target>")
    parser.add_argument("--batch-size", type=positive_int, default=20_000, help="records per write")
    parser.add_argument(
        "--batch-seconds", type=positive_float, default=2.0, help="max wait per batch"
    )
    parser.add_argument("--web-host", default="127.0.0.1", help="0.0.0.0 in a container")
    parser.add_argument(
        "--web-port", type=port_number, default=0, help="health and metrics (0: off)"
    )


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
    health = health_server(args.web_host, args.web_port)

    def started(runner: SinkRunner) -> None:
        if health is not None:  # live: the loop polls every 0.5 s; ready: the target takes writes
            health.bind(
                live=lambda: time.monotonic() - runner.polled_at < SINK_STALL_S,
                ready=lambda: not runner.backing_off,
                detail=lambda: {"sink": writer.name, **asdict(runner.stats)},
            )  # fmt: skip

    run_sink(settings, writer, config, started)
    return 0


COMMANDS = (
    Command("worker", "run a Faust stream worker (scale out: run more)",
            _worker_arguments, _worker),
    Command("sink", "persist imbalance and suggestions (Parquet, PostgreSQL)",
            _sink_arguments, _sink),
)  # fmt: skip
