"""Core speed: update events per second of the book, book + metrics, and the whole pipeline.

Run: `.venv/bin/python bench/bench_core.py`. Input: the Bybit v5 recording (about 10 level
changes per event, 200-level books), read once through the real parser. Every figure is the best
of REPEATS timed passes of one core; `order-book` (the C library behind cryptofeed) applies the
same level changes beside ours. The core as installed runs here (mypyc-compiled `book` and
`metrics` when setup.py could build them); when it is compiled, the pure-Python source runs too,
in a subprocess on a copy of the sources. Prints a table and rewrites the `bench_core` section
of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from order_book import OrderBook
from sections import replace_section

from streams.config import shared_recordings
from streams.core.book import NATIVE, Book
from streams.core.config import MetricsConfig
from streams.core.metrics import Identity, imbalance_record
from streams.core.metrics_state import MetricState
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition
from streams.sources.raw import read_raw

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "benchmarks.md"
RECORDING = shared_recordings() / "BYBIT.jsonl.zst"
START, END = "<!-- bench_core:start -->", "<!-- bench_core:end -->"
REPEATS = 7
PASSES = 3  # passes over the recording per timed repeat
TARGET = 100_000
# What the last speed work measured (interleaved A/B runs of whole processes), kept with the table.
HISTORY = """Speed work on the compiled core (interleaved A/B runs, one process per variant, CPU):
before it (commit c6bf6b1, pure Python) book + metrics ran 62,600 events/s (16.0 µs/event) and
`Pipeline.process` 49,500/s (20.2 µs); after it, compiled, 149,000/s (6.7 µs) and 91,000/s
(11.0 µs); the pure-Python fallback 65,300/s (15.3 µs) and 51,000/s (19.6 µs). Every output is
bit-identical to before: a JSON dump of all records, suggestions and checkpoints of 7 recordings
(default limits, small limits, a checkpoint/restore half-way) and 6 simulated scenarios, compared
after each change for the compiled build, the pure build, and the pure build forced onto the
compiled paths. What did it:

- setup.py compiles `book.py` and `metrics.py` with mypyc at install time (`pip install`,
  `scripts/setup`, the image); without a C compiler, or with `STREAMS_PURE_PYTHON=1`, the `.py`
  modules run. The unchanged sources compiled: 16.0 -> 10.5 µs/event.
- MLOFI is an indexed loop instead of a comprehension over a zip of eight lists (about -1 µs
  compiled), and the book indexes a packet's prices and sizes instead of zipping them (applying a
  packet 2.7 -> 2.0 µs compiled, 4.1 -> 3.7 µs pure).
- The two OFI windows share one pair of lists, each window a suffix of the longest, instead of a
  deque of tuples each (-0.4 µs compiled; the same running sums and checkpoint JSON).
- Where a typed loop over a `list[float]` beats the standard library's C helpers once compiled,
  the compiled build (`NATIVE`) takes it: the book's level search (`bisect_left` -> a typed binary
  search; applying a packet 3.4 -> 2.4 µs) and band depths (`bisect` + `sum` of slices -> typed
  searches + a typed sum of the notionals; about 2.6 -> 1.4 µs). `tests/core/test_native.py` runs
  the other path on the same recording and scenario and demands the same records, suggestions and
  checkpoints, bit for bit.

Tried and dropped: reusing the band depths of bands that end before the first changed level
(-0.1 µs compiled, +0.6 µs pure: the bookkeeping costs what it saves, because changes land all
over 200-level books); compiling `pipeline.py` too (no gain); compiling the breaker modules as
well (84,000 -> 93,000/s for `Pipeline.process`, but a checkpoint counter is written 0.0 instead
of 0, and a stale build of files other engineers edit is a trap). Where the time goes now,
compiled, per event: book ~2.0 µs, band depths ~1.4 µs, the 37-field record ~1 µs, OFI/MLOFI
~0.8 µs, EWMAs and cost-to-trade records ~0.35 µs each; the breaker (pure Python) adds ~4 µs.
`process_many` is the same loop behind one call: it is slower, because a batch keeps its output
records alive (fresh memory instead of reused memory, and more for the garbage collector to
scan)."""
Items = list[tuple[BookDelta, SourcePosition]]


def _order_book_step(books: dict[str, Any], delta: Any) -> Any:
    """Apply one delta to its `order-book` book (size 0 deletes) and return the book."""
    book = books.get(delta.instrument)
    if book is None or delta.is_snapshot:
        book = books[delta.instrument] = OrderBook(max_depth=1000)
    for side, prices, sizes in (
        (book.bids, delta.bid_prices, delta.bid_sizes),
        (book.asks, delta.ask_prices, delta.ask_sizes),
    ):
        for price, size in zip(prices, sizes, strict=True):
            if size == 0.0:
                if price in side:
                    del side[price]
            else:
                side[price] = size
    return book


def order_book_apply(items: Items) -> None:
    books: dict[str, Any] = {}
    for delta, _ in items:
        _order_book_step(books, delta)


def order_book_top10(items: Items) -> None:
    """`order-book` plus the ordered read of the top 10 levels that every metric record needs."""
    books: dict[str, Any] = {}
    for delta, _ in items:
        book = _order_book_step(books, delta)
        bids, asks = book.bids, book.asks
        for side in (bids, asks):
            [side.index(i) for i in range(min(10, len(side)))]


def book_apply(items: Items) -> None:
    books: dict[str, Book] = {}
    for delta, _ in items:
        book = books.get(delta.instrument)
        if book is None:
            book = books[delta.instrument] = Book()
        if delta.is_snapshot:
            book.reset()
        book.bids.apply(delta.bid_prices, delta.bid_sizes, 1000)
        book.asks.apply(delta.ask_prices, delta.ask_sizes, 1000)


def book_and_metrics(items: Items) -> None:
    """Book + every imbalance metric (the record), without the circuit breaker."""
    config = MetricsConfig()
    states: dict[str, tuple[Book, MetricState]] = {}
    for delta, position in items:
        state = states.get(delta.instrument)
        if state is None:
            state = states[delta.instrument] = (Book(), MetricState())
        book, metrics = state
        if delta.is_snapshot:
            book.reset()
            metrics.on_book_reset()
        book.bids.apply(delta.bid_prices, delta.bid_sizes, config.max_levels)
        book.asks.apply(delta.ask_prices, delta.ask_sizes, config.max_levels)
        identity = Identity("", delta.exchange, delta.symbol, delta.event_time, delta.receive_time,
                            position.topic, position.partition, position.offset, "")  # fmt: skip
        imbalance_record(book, metrics, config, delta.event_time, identity)


def pipeline_process(items: Items) -> None:
    pipeline = Pipeline()
    for delta, position in items:
        pipeline.process(delta, position)


def pipeline_process_many(items: Items) -> None:
    Pipeline().process_many(items)


REFERENCE: list[tuple[str, Callable[[Items], None]]] = [
    ("`order-book` (C): apply level changes", order_book_apply),
    ("`order-book` (C): apply + read top 10 per side", order_book_top10),
]
CORE: list[tuple[str, Callable[[Items], None]]] = [
    ("Book: apply level changes", book_apply),
    ("Book + all imbalance metrics (the record)", book_and_metrics),
    ("Pipeline.process (book + metrics + breaker)", pipeline_process),
    ("Pipeline.process_many (same, per batch)", pipeline_process_many),
]
BUILD = "compiled" if NATIVE else "pure Python"


def rate(case: Callable[[Items], None], items: Items) -> float:
    """Best-of-REPEATS events per CPU second."""
    best = 0.0
    for _ in range(REPEATS):
        start = time.process_time()
        for _ in range(PASSES):
            case(items)
        elapsed = time.process_time() - start
        best = max(best, PASSES * len(items) / elapsed)
    return best


def read_items() -> Items:
    return list(read_raw(None, RECORDING))


def measure_pure() -> list[tuple[str, float]]:
    """The CORE cases on the pure-Python sources, in a subprocess on a copy without the builds."""
    with tempfile.TemporaryDirectory() as directory:
        copy = Path(directory)
        ignore = shutil.ignore_patterns("*.so", "__pycache__")
        shutil.copytree(ROOT / "streams", copy / "streams", ignore=ignore)
        output = copy / "pure.json"
        environment = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{Path(__file__).parent}"}
        subprocess.run(
            [sys.executable, __file__, "--pure", str(output)], env=environment, check=True
        )
        return [(name, float(events)) for name, events in json.loads(output.read_text())]


def measure() -> tuple[Items, list[tuple[str, float]]]:
    """Rows of (name, events/s): the reference, the core as installed, the pure core if that was
    compiled."""
    items = read_items()
    results = [(name, rate(case, items)) for name, case in REFERENCE]
    results += [(f"streams {name} ({BUILD})", rate(case, items)) for name, case in CORE]
    if NATIVE:
        results += [(f"streams {name} (pure Python)", events) for name, events in measure_pure()]
    return items, results


def section(items: Items, results: list[tuple[str, float]]) -> str:
    changes = sum(d.level_changes for d, _ in items) / len(items)
    rates = dict(results)
    metrics = rates[f"streams Book + all imbalance metrics (the record) ({BUILD})"]
    full = rates[f"streams Pipeline.process (book + metrics + breaker) ({BUILD})"]
    rows = "\n".join(
        f"| {name} | {events:,.0f} | {events * changes:,.0f} | {1e6 / events:.2f} |"
        for name, events in results
    )
    built = (
        "`book.py`, the metrics and the breaker compiled by mypyc (setup.py), and the\nsame "
        "sources as pure Python in a subprocess"
        if NATIVE
        else "pure Python: setup.py found no C compiler or was told not to\ncompile"
    )
    return f"""{START}
## Core: book and metrics (`bench/bench_core.py`)

{time.strftime("%Y-%m-%d")}, Python {platform.python_version()}, {platform.machine()}, one core
of a 2-core machine shared with other jobs (CPU time, best of {REPEATS}). Input: the Bybit v5
recording, {len(items):,} update events, {changes:.1f} level changes per event, 200-level books.
Core: {built}.

| what | events/s | level changes/s | µs/event |
|---|---:|---:|---:|
{rows}

Target (issues 3 and 10): >= {TARGET:,} update events/s with all metrics on one core.
Book + metrics ({BUILD}): **{metrics:,.0f}/s ({"met" if metrics >= TARGET else "missed"})**; the
whole pipeline with the breaker: **{full:,.0f}/s ({"met" if full >= TARGET else "missed"})**.

{HISTORY}
{END}"""


def main() -> int:
    if sys.argv[1:2] == ["--pure"]:  # the subprocess of measure_pure
        if NATIVE:
            raise SystemExit("--pure loaded compiled modules")
        items = read_items()
        Path(sys.argv[2]).write_text(json.dumps([(n, rate(case, items)) for n, case in CORE]))
        return 0
    items, results = measure()
    for name, events in results:
        print(f"{name:60s} {events:12,.0f} events/s")
    replace_section(DOCUMENT, "bench_core", section(items, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
