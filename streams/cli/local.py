"""Commands for one machine: the local broker, topics, the configuration, and `run`/`demo`."""

from __future__ import annotations

import argparse

from streams.arguments import positive_int
from streams.cli.common import Command, config_argument, config_path, resolve_settings
from streams.config import Settings, load_pipeline_config

__all__ = ["COMMANDS"]


def _broker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--heap-mb", type=positive_int, default=512)


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


def _topics_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["create"])
    parser.add_argument("--partitions", type=positive_int, default=4)
    parser.add_argument("--replication-factor", type=positive_int, default=1)


def _topics(args: argparse.Namespace, settings: Settings) -> int:
    from streams.transport import create_topics, topic_specs

    settings = resolve_settings(settings)
    specs = topic_specs(settings.topics, partitions=args.partitions)
    outcome = create_topics(settings, specs, replication_factor=args.replication_factor)
    for name in sorted(outcome):
        print(f"{name}: {outcome[name]}")
    return 0


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show", "check"], help="show: effective TOML + hash")
    parser.add_argument("path", nargs="?", default=None, help="file (default: --config)")
    config_argument(parser)


def _config(args: argparse.Namespace, settings: Settings) -> int:
    from streams.config import render_pipeline_config

    path = args.path or config_path(args, settings)
    config = load_pipeline_config(path)
    if args.action == "check":
        print(f"{path or 'defaults'}: ok, config_hash {config.config_hash()}")
    else:
        source = f"defaults + {path}" if path else "defaults"
        print(render_pipeline_config(config, source), end="")
    return 0


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="streams-output", help="Parquet, logs, report")
    parser.add_argument("--partitions", type=positive_int, default=4)
    config_argument(parser)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from streams.run import RunConfig, run_all

    path = config_path(args, settings)
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


COMMANDS = (
    Command("broker", "run a local single-node Kafka (KRaft) from Maven jars",
            _broker_arguments, _broker),
    Command("run", "every role in one go on this machine (local broker unless one is configured)",
            _run_arguments, _run),
    Command("demo", "`run` on the bundled real exchange recordings (demo/recordings)",
            _run_arguments, _run),
    Command("topics", "create the product's topics (idempotent)", _topics_arguments, _topics),
    Command("config", "print or validate the metrics/breaker configuration",
            _config_arguments, _config),
)  # fmt: skip
