"""`streams fake-exchange VENUE RECORDING`: serve a recording as the venue until interrupted."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from streams.arguments import port_number, positive_float
from streams.fake_exchange.faults import FAULT_NAMES, Faults
from streams.fake_exchange.server import DIALECTS, ReplayConfig, ReplayServer

__all__ = ["add_arguments", "main_fake_exchange"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `streams fake-exchange` on its sub-parser."""
    parser.add_argument("venue", type=str.upper, choices=sorted(DIALECTS), help="venue dialect")
    parser.add_argument("recording", type=Path, help="NAME.ws.N.0 (its NAME.http.* beside it)")
    parser.add_argument("--port", type=port_number, default=8765)
    parser.add_argument(
        "--interval", type=positive_float, default=0.001, help="seconds per book frame"
    )
    for attribute in FAULT_NAMES.values():
        option = "--" + attribute.replace("_", "-")
        parser.add_argument(option, type=int, default=None, help="book frame index")


async def _serve(config: ReplayConfig) -> None:
    server = await ReplayServer(config).start()
    where = f"{server.websocket_url} {server.rest_url}"
    print(f"replaying {config.recording.name}: {where}", flush=True)
    await server.done.wait()
    sent = f"{server.book_frames} book frames, {server.messages_sent} messages"
    print(f"feed finished: {sent}", flush=True)
    await asyncio.Event().wait()  # keep serving snapshots until interrupted


def main_fake_exchange(args: argparse.Namespace) -> int:
    if not args.recording.exists():
        raise FileNotFoundError(f"no recording {args.recording}")
    faults = Faults(**{attribute: getattr(args, attribute) for attribute in FAULT_NAMES.values()})
    config = ReplayConfig(
        venue=args.venue, recording=args.recording, port=args.port,
        frame_interval_s=args.interval, faults=faults,
    )  # fmt: skip
    try:
        asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 0
    return 0
