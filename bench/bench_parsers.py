"""Parser throughput per venue on the real recordings (messages per second).

Run: `.venv/bin/python bench/bench_parsers.py`. Prints a table and rewrites the section between
the `bench_parsers` markers in docs/benchmarks.md. "parse" times the venue parser alone; "sync"
adds the BookSynchronizer (sequence rules, and checksum verification on Kraken/OKX/Bitfinex).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sections import replace_section

from streams.config import shared_recordings
from streams.sources.recording import CONNECT, RECV, read_recording
from streams.venues.registry import get_venue
from streams.venues.synchronizer import BookSynchronizer

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = shared_recordings()
DOCUMENT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_parsers:start -->", "<!-- bench_parsers:end -->"
MINIMUM_SECONDS = 0.5

CASES = [
    ("BINANCE_DELIVERY", "BINANCE_DELIVERY.ws.1.0"),
    ("BINANCE_FUTURES", "BINANCE_FUTURES.ws.1.0"),
    ("BITFINEX", str(ROOT / "tests/fixtures/data/BITFINEX.ws.1.0")),  # with its checksum frames
    ("BITSTAMP", "BITSTAMP.ws.1.0"),  # websocket frames only: the sync buffers for REST
    ("BYBIT", "BYBIT.jsonl.zst"),
    ("COINBASE", "COINBASE.jsonl.zst"),
    ("DERIBIT", "DERIBIT.ws.1.0"),
    ("GEMINI", "GEMINI.ws.1.0"),
    ("KRAKEN", "KRAKEN.ws.50.0"),
    ("KRAKEN_FUTURES", "KRAKEN_FUTURES.ws.1.0"),
    ("OKX", "OKX.ws.1.0"),
]


def _frames(name: str) -> tuple[str, list[tuple[str | bytes, int]]]:
    address, frames = "", []
    for event in read_recording(RECORDINGS / name):
        if event.kind == CONNECT and not address:
            address = event.address
        elif event.kind == RECV:
            frames.append((event.data, event.time_us))
    return address, frames


def _rate(run: Callable[[], None], count: int) -> float:
    """Messages per second of `run()` over `count` messages, repeated for a stable time."""
    rounds, elapsed = 0, 0.0
    while elapsed < MINIMUM_SECONDS:
        start = time.perf_counter()
        run()
        elapsed += time.perf_counter() - start
        rounds += 1
    return rounds * count / elapsed


def measure(venue: str, name: str) -> tuple[str, int, int, float, float]:
    address, frames = _frames(name)
    parser = get_venue(venue, address)
    book_frames = sum(1 for frame, stamp in frames if parser.parse(frame, stamp).updates)

    def parse_all() -> None:
        for frame, stamp in frames:
            parser.parse(frame, stamp)

    def sync_all() -> None:
        synchronizer = BookSynchronizer(get_venue(venue, address))
        for frame, stamp in frames:
            synchronizer.on_frame(frame, stamp)

    return (
        venue,
        len(frames),
        book_frames,
        _rate(parse_all, len(frames)),
        _rate(sync_all, len(frames)),
    )


def table(rows: list[tuple[str, int, int, float, float]]) -> str:
    lines = [
        "| venue | frames | book frames | parse msgs/s | parse + sync msgs/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for venue, frames, book, parse, sync in rows:
        lines.append(f"| {venue} | {frames} | {book} | {parse:,.0f} | {sync:,.0f} |")
    return "\n".join(lines)


def write_section(body: str) -> None:
    replace_section(DOCUMENT, "bench_parsers", f"{START}\n{body}\n{END}")


def main() -> int:
    rows = [measure(venue, name) for venue, name in CASES if (RECORDINGS / name).exists()]
    result = table(rows)
    print(result)
    header = (
        "## Venue parsers (`bench/bench_parsers.py`)\n\n"
        f"All frames of each recording (non-book frames included), Python "
        f"{platform.python_version()}, stdlib `json`, one core. Sync includes checksum "
        "verification on Kraken and OKX.\n\n"
    )
    write_section(header + result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
