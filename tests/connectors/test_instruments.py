"""The instrument registry's venue side: recorded instrument endpoints parse into specs with a
source for every value, the bundled snapshot is what the recordings' metadata says, live
connectors fetch the endpoints (falling back to the snapshot), and --instruments converts tardis
inputs."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.connectors.snapshot import build_snapshot
from streams.core.types import ContractSpec
from streams.sources.raw import read_raw
from streams.sources.recording import HTTP, read_recording
from streams.sources.spec import open_source
from streams.sources.tardis import write_tardis
from streams.venues.instruments import (
    BUNDLED,
    ENDPOINTS,
    fetch_registry,
    load_entries,
    parse_instruments,
)
from tests.connectors.helpers import RECORDINGS, recording

pytestmark = pytest.mark.unit


def _metadata(name: str) -> list[tuple[str, str]]:
    return [(e.address, e.data) for e in read_recording(recording(name)) if e.kind == HTTP]


def test_recorded_endpoints_give_the_published_contract_specs() -> None:
    entries = {
        entry.instrument: entry
        for name, venue in (("BINANCE_DELIVERY.0", "BINANCE_DELIVERY"), ("OKX.0", "OKX"),
                            ("KRAKEN_FUTURES.0", "KRAKEN_FUTURES"), ("DERIBIT.0", "DERIBIT"))
        for url, body in _metadata(name)
        for entry in parse_instruments(venue, url, body)
    }  # fmt: skip
    expected = {
        "BINANCE_DELIVERY:BTC-USD-PERP": ("inverse", "BTC", "USD", "BTC", 100.0),
        "BINANCE_DELIVERY:ETH-USD-PERP": ("inverse", "ETH", "USD", "ETH", 10.0),
        "OKX:BTC-USDT-PERP": ("linear", "BTC", "USDT", "USDT", 0.01),
        "OKX:BTC-USD-PERP": ("inverse", "BTC", "USD", "BTC", 100.0),
        "OKX:BTC-USDT": ("spot", "BTC", "USDT", "USDT", 1.0),
        "KRAKEN_FUTURES:BTC-USD-PERP": ("inverse", "BTC", "USD", "BTC", 1.0),
        "DERIBIT:BTC-USD-PERP": ("inverse", "BTC", "USD", "BTC", 1.0),  # amounts are USD
        "DERIBIT:BTC-USD-20220624-15000-C": ("option", "BTC", "BTC", "BTC", 1.0),
    }
    for instrument, (kind, base, quote, settlement, size) in expected.items():
        spec = entries[instrument].spec
        assert (spec.kind, spec.base, spec.quote, spec.settlement, spec.contract_size) == (
            kind, base, quote, settlement, size,
        ), instrument  # fmt: skip
        sources = entries[instrument].sources
        assert set(sources) == {"kind", "base", "quote", "settlement", "contract_size", "tick_size"}
        assert all(source.startswith("https://") for source in sources.values())
    assert "ctVal" in entries["OKX:BTC-USDT-PERP"].sources["contract_size"]


def test_the_bundled_snapshot_is_what_the_recordings_say() -> None:
    if not RECORDINGS.exists():
        pytest.skip("recordings not available")
    rebuilt = build_snapshot(RECORDINGS)
    assert rebuilt == json.loads(BUNDLED.read_text(encoding="utf-8")), (
        "rebuild with python -m streams.connectors.snapshot"
    )
    ids = {entry.instrument for entry in load_entries(BUNDLED)}
    for venue, name in (("DERIBIT", "DERIBIT.ws.1.0"), ("OKX", "OKX.ws.1.0")):
        assert {d.instrument for d, _ in read_raw(venue, recording(name))} <= ids


def test_a_live_connector_takes_the_endpoint_and_falls_back_to_the_snapshot() -> None:
    recorded = dict(_metadata("OKX.0"))
    fetched: list[str] = []

    async def get(url: str) -> str:
        fetched.append(url)
        if "FUTURES" in url:
            raise OSError("connection refused")
        body = recorded[url.replace("http://", "https://")]
        document = json.loads(body)  # the live endpoint says something newer than the snapshot
        for item in document["data"]:
            if item["instId"] == "UNI-USD-SWAP":
                item["ctVal"] = "20"
        return json.dumps(document)

    registry = asyncio.run(fetch_registry("OKX", get, lambda url: url.replace("https", "http")))
    assert fetched == [url.replace("https", "http") for url in ENDPOINTS["OKX"]]
    uni = registry.get("OKX:UNI-USD-PERP")
    assert uni is not None
    assert uni.contract_size == 20.0
    future = registry.get("OKX:BTC-USD-20220527")  # its endpoint failed: the snapshot's spec
    assert future == ContractSpec(
        kind="inverse", base="BTC", quote="USD", settlement="BTC", contract_size=100.0,
        tick_size=0.1,
    )  # fmt: skip


def _tardis(tmp_path: Path) -> Path:
    deltas = [d for d, _ in read_raw("OKX", recording("OKX.ws.1.0"))]
    source = tmp_path / "okx.csv.gz"
    with gzip.open(source, "wt", encoding="utf-8") as handle:
        write_tardis(deltas, handle)
    return source


def test_instruments_file_converts_a_tardis_input(tmp_path: Path) -> None:
    source = _tardis(tmp_path)
    instruments = tmp_path / "instruments.json"
    instruments.write_text(json.dumps({"instruments": [{
        "instrument": "OKX:BTC-USD-20220527", "kind": "inverse", "base": "BTC", "quote": "USD",
        "settlement": "BTC", "contract_size": 100.0,
    }]}))  # fmt: skip
    plain = {d.instrument: d for d, _ in open_source(f"tardis:{source}") if d.bid_sizes}
    converted = {
        d.instrument: d for d, _ in open_source(f"tardis:{source}", instruments) if d.bid_sizes
    }
    future = "OKX:BTC-USD-20220527"
    assert converted[future].spec is not None
    raw, base = plain[future], converted[future]
    assert base.bid_sizes[0] == raw.bid_sizes[0] * 100.0 / raw.bid_prices[0]
    assert converted["OKX:BTC-USDT"] == plain["OKX:BTC-USDT"]  # not in the file: untouched

    output = tmp_path / "out.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "compute", "--source", f"tardis:{source}",
         "--output", str(output), "--instruments", str(instruments)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    kinds = {json.loads(line)["instrument_kind"] for line in output.read_text().splitlines()}
    assert kinds == {"inverse", None}
    bad = tmp_path / "bad.json"
    bad.write_text('{"instruments": [{"instrument": "X:Y", "kind": "perp"}]}')
    failed = subprocess.run(
        [sys.executable, "-m", "streams.cli", "compute", "--source", f"tardis:{source}",
         "--output", str(output), "--instruments", str(bad)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert failed.returncode == 2
    assert "bad.json: not an instrument file" in failed.stderr
