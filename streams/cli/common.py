"""What every command shares: the command record, settings resolution, shared arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streams.config import Settings, load_pipeline_config
from streams.exceptions import StreamsError
from streams.operations import HealthServer

if TYPE_CHECKING:
    from streams.core.pipeline_config import PipelineConfig

__all__ = [
    "Command",
    "Handler",
    "config_argument",
    "config_path",
    "health_server",
    "instruments_argument",
    "parse_time",
    "pipeline_config",
    "progress_bar",
    "resolve_settings",
]

Handler = Callable[[argparse.Namespace, Settings], int]


@dataclass(frozen=True, slots=True)
class Command:
    """One `streams` subcommand: its arguments are declared next to its handler."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler


def config_path(args: argparse.Namespace, settings: Settings) -> str | None:
    """--config, else STREAMS_CONFIG, else None (the built-in defaults)."""
    path = getattr(args, "config", None) or settings.config_path
    return str(path) if path else None


def pipeline_config(args: argparse.Namespace, settings: Settings) -> PipelineConfig:
    return load_pipeline_config(config_path(args, settings))


def health_server(host: str, port: int) -> HealthServer | None:
    """/metrics, /healthz and /readyz for roles that are not Faust apps (port 0: none)."""
    return HealthServer(host, port).start() if port else None


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


def progress_bar() -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar = tqdm(unit="rec", unit_scale=True, file=sys.stderr, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update


def config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default=None, metavar="PATH",
        help="TOML file of metrics, breaker and tiers (default: STREAMS_CONFIG, else built-ins)",
    )  # fmt: skip


def instruments_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--instruments", default=None, metavar="FILE",
        help="contract specs (JSON, like streams/venues/instruments.json): sizes become base "
        "units; raw inputs use the bundled snapshot too, tardis inputs only this file",
    )  # fmt: skip
