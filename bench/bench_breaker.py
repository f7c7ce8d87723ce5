"""Breaker throughput: imbalance records per second through `BreakerEngine.on_imbalance` alone.

Run: `.venv/bin/python bench/bench_breaker.py`. The records are computed once by the real
pipeline from simulated scenarios (so they have the real shape), then fed to fresh engines and
timed. Prints a table and rewrites the section between the `bench_breaker` markers in
docs/benchmarks.md.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

from sections import replace_section

from streams.core.breaker import BreakerEngine
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.simulate.scenarios import run_scenario

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench_breaker:start -->", "<!-- bench_breaker:end -->"
MINIMUM_SECONDS = 1.0
REPEATS = 5
CASES = ("calm", "flash_crash", "liquidity_withdrawal")


def records_of(name: str) -> list[dict[str, Any]]:
    pipeline = Pipeline()
    records = []
    for offset, delta in enumerate(run_scenario(name, 0)):
        output = pipeline.process(delta, SourcePosition("bench", 0, offset))
        if output.imbalance is not None:
            records.append(output.imbalance)
    return records


def rate(records: list[dict[str, Any]]) -> tuple[float, int]:
    """Best-of-REPEATS records per second, each repeat at least MINIMUM_SECONDS long."""
    best = 0.0
    suggestions = 0
    for _ in range(REPEATS):
        count, elapsed = 0, 0.0
        while elapsed < MINIMUM_SECONDS:
            on_imbalance = BreakerEngine().on_imbalance
            suggestions = 0
            start = time.perf_counter()
            for record in records:
                suggestions += len(on_imbalance(record))
            elapsed += time.perf_counter() - start
            count += len(records)
        best = max(best, count / elapsed)
    return best, suggestions


def main() -> int:
    lines = [
        "| scenario | records | suggestions | on_imbalance records/s (best of 5) |",
        "|---|---:|---:|---:|",
    ]
    for name in CASES:
        records = records_of(name)
        per_second, suggestions = rate(records)
        lines.append(f"| {name} | {len(records)} | {suggestions} | {per_second:,.0f} |")
    body = "\n".join(lines)
    print(body)
    header = (
        "## Circuit breaker (`bench/bench_breaker.py`)\n\n"
        f"`BreakerEngine.on_imbalance` alone on records the pipeline computed from simulated "
        f"scenarios (one instrument, 4 records/s of event time), Python "
        f"{platform.python_version()}, one core of a shared 2-core machine. Target: 200,000/s.\n\n"
    )
    write_section(header + body)
    return 0


def write_section(body: str) -> None:
    replace_section(DOCUMENT, "bench_breaker", f"{START}\n{body}\n{END}")


if __name__ == "__main__":
    sys.exit(main())
