"""The one entry point: `streams <command>`. Thin: parses arguments, builds settings, delegates.

Each command declares its arguments next to its handler (`streams.cli.local`, `feeds`,
`services`, `audit`; `simulate` and `dashboard` in their own packages). Every expected failure
(bad configuration, unreachable broker, missing Java/Maven, malformed input) ends with one line
on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging.config
import sys
from collections.abc import Sequence
from typing import NoReturn

from confluent_kafka import KafkaException

from streams.arguments import ensure_port_free
from streams.cli import audit, feeds, local, services
from streams.cli.common import Command, parse_time, resolve_settings
from streams.config import ENVIRONMENT, TOOLING_ENVIRONMENT, Settings
from streams.exceptions import StreamsError
from streams.operations import logging_config, redact_in_logs

__all__ = ["COMMANDS", "main", "parse_time"]


def _simulate_arguments(parser: argparse.ArgumentParser) -> None:
    from streams.simulate.command import add_arguments

    add_arguments(parser)


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from streams.simulate.command import main_simulate

    return main_simulate(args, resolve_settings(settings) if args.publish else settings)


def _dashboard_arguments(parser: argparse.ArgumentParser) -> None:
    from streams.dashboard.command import add_arguments

    add_arguments(parser)


def _dashboard(args: argparse.Namespace, settings: Settings) -> int:
    from streams.dashboard.command import main_dashboard

    ensure_port_free(args.host, args.port, "--port")
    return main_dashboard(args, resolve_settings(settings))


def _fake_exchange_arguments(parser: argparse.ArgumentParser) -> None:
    from streams.fake_exchange.command import add_arguments

    add_arguments(parser)


def _fake_exchange(args: argparse.Namespace, settings: Settings) -> int:
    from streams.fake_exchange.command import main_fake_exchange

    ensure_port_free("127.0.0.1", args.port, "--port")
    return main_fake_exchange(args)


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        *local.COMMANDS,
        *feeds.COMMANDS,
        *services.COMMANDS,
        *audit.COMMANDS,
        Command("simulate", "stress-scenario book deltas (file/Kafka)",
                _simulate_arguments, _simulate),
        Command("dashboard", "live web view of the output topics",
                _dashboard_arguments, _dashboard),
        Command("fake-exchange", "serve a recording as the venue, with faults (tests)",
                _fake_exchange_arguments, _fake_exchange),
    )
}  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (the usage block is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


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
    for command in COMMANDS.values():
        command.arguments(sub.add_parser(command.name, help=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
        redact_in_logs(*settings.secret_values())
        level = "DEBUG" if args.verbose else "INFO"
        logging.config.dictConfig(logging_config(settings.log_format, level))
        return COMMANDS[args.command].handler(args, settings)
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
