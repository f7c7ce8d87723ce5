"""Build the bundled instrument snapshot from the recordings' instrument metadata (NAME.0).

    .venv/bin/python -m streams.connectors.snapshot ../shared/data/exchange-recordings

Keeps the instruments whose books the recordings hold, each value with the response field it came
from; `tests/connectors/test_instruments.py` fails when the file and the recordings disagree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.config import shared_recordings
from streams.sources.raw import read_raw
from streams.sources.recording import HTTP, read_recording
from streams.venues.instruments import BUNDLED, InstrumentEntry, parse_instruments

__all__ = ["build_snapshot"]


def build_snapshot(recordings: Path) -> dict[str, Any]:
    """Entries of every instrument whose book the recordings hold, from their NAME.0 metadata."""
    books = {
        "BINANCE": "BINANCE.ws.1.0", "BINANCE_US": "BINANCE_US.ws.1.0",
        "BINANCE_FUTURES": "BINANCE_FUTURES.ws.1.0", "BINANCE_DELIVERY": "BINANCE_DELIVERY.ws.1.0",
        "BYBIT": "BYBIT.jsonl.zst", "COINBASE": "COINBASE.jsonl.zst", "DERIBIT": "DERIBIT.ws.1.0",
        "KRAKEN": "KRAKEN.ws.50.0", "KRAKEN_FUTURES": "KRAKEN_FUTURES.ws.1.0", "OKX": "OKX.ws.1.0",
        "OKCOIN": "OKCOIN.ws.1.0",
        "KUCOIN": "KUCOIN.ws.1.0",
        "HUOBI": "HUOBI.ws.44.0",
        "CRYPTO.COM": "CRYPTO.COM.jsonl.zst",
        "BITFINEX": "BITFINEX.ws.11.0",
        "BITSTAMP": "BITSTAMP.ws.1.0",
        "GEMINI": "GEMINI.ws.1.0",
        "BITMEX": "BITMEX.ws.1.0",
    }  # fmt: skip
    metadata = {venue: [f"{venue}.0"] for venue in books}
    metadata["BYBIT"] = ["BYBIT.jsonl.zst"]
    metadata["CRYPTO.COM"] = ["CRYPTO.COM.jsonl.zst"]
    metadata["COINBASE"] = ["COINBASE.jsonl.zst", "COINBASE.0"]
    chosen: dict[str, InstrumentEntry] = {}
    recorded: dict[str, str] = {}
    for venue, book in books.items():
        wanted = {delta.instrument for delta, _ in read_raw(venue, recordings / book)}
        for name in metadata[venue]:
            for event in read_recording(recordings / name):
                if event.kind != HTTP:
                    continue
                when = datetime.fromtimestamp(event.time_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%MZ")
                for entry in parse_instruments(venue, event.address, event.data):
                    if entry.instrument in wanted and entry.instrument not in chosen:
                        chosen[entry.instrument] = entry
                        recorded[venue] = f"{name}, recorded {when}"
    return {
        "doc": "Contract specs of the instruments whose books the bundled recordings hold, read "
        "from each venue's public instrument endpoint as recorded in NAME.0 (sources name the "
        "response field of every value). Rebuild: python -m streams.connectors.snapshot DIR.",
        "recorded": dict(sorted(recorded.items())),
        "instruments": [chosen[key].as_dict() for key in sorted(chosen)],
    }


if __name__ == "__main__":
    import sys

    source = Path(sys.argv[1]) if len(sys.argv) > 1 else shared_recordings()
    document = build_snapshot(source)
    BUNDLED.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{BUNDLED}: {len(document['instruments'])} instruments", file=sys.stderr)
