"""`streams dashboard`: its arguments and its handler (kept here so cli.py stays thin)."""

from __future__ import annotations

import argparse

from streams.arguments import non_negative_int, port_number, positive_float, positive_int
from streams.config import Settings
from streams.dashboard.config import DashboardConfig

__all__ = ["add_arguments", "main_dashboard"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `streams dashboard` on its sub-parser."""
    defaults = DashboardConfig()
    parser.add_argument("--host", default=defaults.host, help="address to listen on")
    parser.add_argument(
        "--port", type=port_number, default=defaults.port, help="0 picks a free port"
    )
    parser.add_argument(
        "--backfill", type=non_negative_int, default=defaults.backfill,
        help="records per partition shown on start (read back from the end of each topic)",
    )  # fmt: skip
    parser.add_argument(
        "--push-interval", type=positive_float, default=defaults.push_interval_s,
        help="seconds between updates to the browser (each instrument at most once each)",
    )  # fmt: skip
    parser.add_argument(
        "--window", type=positive_int, default=defaults.window_points,
        help="points kept per instrument, one per 100 ms of event time",
    )  # fmt: skip


def main_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; `settings` must point at a cluster."""
    from streams.dashboard.server import run_dashboard

    config = DashboardConfig(
        host=args.host, port=args.port, backfill=args.backfill,
        push_interval_s=args.push_interval, window_points=args.window,
    )  # fmt: skip
    run_dashboard(settings, config)
    return 0
