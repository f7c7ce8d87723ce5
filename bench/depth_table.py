"""Print the docs/metrics.md table: BTC depth within 25 bps of mid across the recorded venues.

    .venv/bin/python bench/depth_table.py [RECORDINGS_DIR]

Median over each instrument's records of `depth_bid_25bps` and `depth_ask_25bps`, once with sizes
in base units from the instrument registry (what the pipeline computes) and once with the venue's
own sizes taken as base units (what it computed before contract specs), side by side.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from streams.config import shared_recordings
from streams.core.pipeline import Pipeline
from streams.sources.raw import read_raw
from streams.venues.instruments import bundled_registry

FEEDS = (
    ("BINANCE_DELIVERY", "BINANCE_DELIVERY.ws.1.0"),
    ("BYBIT", "BYBIT.jsonl.zst"),
    ("COINBASE", "COINBASE.jsonl.zst"),
    ("KRAKEN_FUTURES", "KRAKEN_FUTURES.ws.1.0"),
    ("OKCOIN", "OKCOIN.ws.1.0"),
    ("OKX", "OKX.ws.1.0"),
)
USD_QUOTES = ("USD", "USDT", "USDC")


def _medians(venue: str, path: Path, convert: bool) -> dict[str, tuple[float, float, int]]:
    registry = bundled_registry()
    pipeline = Pipeline()
    depths: dict[str, list[tuple[float, float]]] = {}
    for delta, position in read_raw(venue, path):
        if not delta.symbol.startswith("BTC-"):
            continue
        record = pipeline.process(registry.convert(delta) if convert else delta, position).imbalance
        if record is not None:
            depths.setdefault(delta.instrument, []).append(
                (record["depth_bid_25bps"], record["depth_ask_25bps"])
            )
    return {
        instrument: (
            statistics.median(b for b, _ in rows),
            statistics.median(a for _, a in rows),
            len(rows),
        )
        for instrument, rows in depths.items()
    }


def main(recordings: Path) -> None:
    registry = bundled_registry()
    print("| instrument | kind | contract | records | bid depth 25 bps | ask depth 25 bps "
          "| before: price x venue size (bid) |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|")
    for venue, name in FEEDS:
        after = _medians(venue, recordings / name, convert=True)
        before = _medians(venue, recordings / name, convert=False)
        for instrument in sorted(after):
            spec = registry.get(instrument)
            if spec is None or spec.quote not in USD_QUOTES:
                continue
            bid, ask, records = after[instrument]
            unit = spec.quote if spec.kind == "inverse" else spec.base
            contract = "base units" if spec.identity else f"{spec.contract_size:g} {unit}"
            quote = spec.quote
            print(f"| {instrument} | {spec.kind} | {contract} | {records} | {bid:,.0f} {quote} "
                  f"| {ask:,.0f} {quote} | {before[instrument][0]:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else shared_recordings())
