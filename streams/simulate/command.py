"""`streams simulate SCENARIO`: write a scenario's book deltas to a file or publish them to Kafka.

`--output PATH.jsonl` writes one delta per line (the `BookDelta` fields); `PATH.csv` or
`PATH.csv.gz` writes tardis.dev `incremental_book_L2` rows. `--publish` sends the deltas to the
book-deltas topic keyed by instrument, exactly as a connector would.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO

from streams.config import Settings
from streams.core.types import BookDelta
from streams.simulate.scenarios import SCENARIOS, run_scenario, scenario

__all__ = ["TARDIS_HEADER", "add_arguments", "main_simulate", "tardis_rows", "write_deltas"]

TARDIS_HEADER = (
    "exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `streams simulate` on its sub-parser."""
    parser.add_argument("scenario", choices=sorted(SCENARIOS), help="which market to simulate")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same deltas)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", type=Path, help="deltas.jsonl, or .csv/.csv.gz (tardis)")
    target.add_argument("--publish", action="store_true", help="publish to the book-deltas topic")
    parser.add_argument("--topic", default=None, help="with --publish; default: book-deltas")


def main_simulate(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Run the command; `settings` must point at a cluster when `--publish` is given."""
    chosen = scenario(args.scenario)
    deltas = run_scenario(chosen.name, args.seed)
    if args.publish:
        if settings is None:
            raise ValueError("--publish needs settings that point at a Kafka cluster")
        from streams.codec import TopicCodecs
        from streams.transport import DeltaPublisher

        publisher = DeltaPublisher(settings, TopicCodecs.register(settings), args.topic)
        count = publisher.publish_many(deltas)
        publisher.flush()
        where = publisher.topic
    else:
        count = write_deltas(deltas, args.output)
        where = str(args.output)
    print(
        f"{chosen.name} (seed {args.seed}): {count} book deltas to {where}; stress starts at "
        f"{chosen.onset_s:g} s; expected: {chosen.reaction}",
        file=sys.stderr,
    )
    return 0


def write_deltas(deltas: Iterable[BookDelta], path: Path) -> int:
    """Write deltas as JSON lines or tardis CSV (chosen by the file name); return the count."""
    name = path.name.lower()
    tardis = name.endswith((".csv", ".csv.gz"))
    opener = gzip.open if name.endswith(".gz") else open
    count = 0
    with opener(path, "wt", encoding="utf-8", newline="") as out:
        if tardis:
            count = _write_tardis(deltas, out)
        else:
            for delta in deltas:
                out.write(json.dumps(asdict(delta), separators=(",", ":")) + "\n")
                count += 1
    return count


def _write_tardis(deltas: Iterable[BookDelta], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TARDIS_HEADER)
    count = 0
    for delta in deltas:
        writer.writerows(tardis_rows(delta))
        count += 1
    return count


def tardis_rows(delta: BookDelta) -> Iterator[tuple[str, ...]]:
    """Rows of one packet in tardis `incremental_book_L2` form (one per level change)."""
    common = (delta.exchange, delta.venue_symbol, str(delta.event_time), str(delta.receive_time),
              "true" if delta.is_snapshot else "false")  # fmt: skip
    for side, prices, sizes in (
        ("bid", delta.bid_prices, delta.bid_sizes),
        ("ask", delta.ask_prices, delta.ask_sizes),
    ):
        for price, size in zip(prices, sizes, strict=True):
            yield (*common, side, repr(price), repr(size))
