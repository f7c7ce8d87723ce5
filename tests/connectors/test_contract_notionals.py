"""Depth and cost-to-trade of derivative books, recomputed by hand from each venue's published
contract spec on the venue's own sizes, equal what the pipeline computes on base units.

The specs below are typed from the venues' contract-spec pages, not taken from the registry, so
the test checks the registry (built from the recorded instrument endpoints) and the conversion
at once. Quote notionals: linear and option `price * size * multiplier`; inverse
`contracts * contract value` (in the quote currency, whatever the price).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from streams.core.config import DEPTH_BANDS_BPS, MetricsConfig
from streams.core.pipeline import Pipeline
from streams.sources.raw import read_raw
from streams.venues.instruments import bundled_registry
from tests.connectors.helpers import apply_levels, recording

pytestmark = pytest.mark.unit

# venue: (recording, [(instrument glob, kind, what one unit of the venue's size is)], source)
PUBLISHED = {
    "DERIBIT": ("DERIBIT.ws.1.0", [("*", "option", 1.0)],
                "Deribit contract specs: options, contract size 1 BTC / 1 ETH, premium in BTC/ETH"),
    "BINANCE_FUTURES": ("BINANCE_FUTURES.ws.1.0", [("*", "linear", 1.0)],
                        "Binance USDⓈ-M futures: quantity in the base asset"),
    "BINANCE_DELIVERY": ("BINANCE_DELIVERY.ws.1.0",
                         [("*:BTC-*", "inverse", 100.0), ("*", "inverse", 10.0)],
                         "Binance COIN-M contract specifications: BTCUSD 100 USD, others 10 USD"),
    "OKX": ("OKX.ws.1.0",
            [("*:BTC-USD-2*", "inverse", 100.0), ("*:UNI-USD-PERP", "inverse", 10.0),
             ("*:BTC-USDT", "spot", 1.0)],
            "OKX contract specs: BTC-USD futures 100 USD, UNI-USD swap 10 USD per contract"),
    "KRAKEN_FUTURES": ("KRAKEN_FUTURES.ws.1.0", [("*", "inverse", 1.0)],
                       "Kraken Futures inverse contracts: 1 USD each"),
    "BYBIT": ("BYBIT.jsonl.zst", [("*-PERP", "linear", 1.0), ("*", "spot", 1.0)],
              "Bybit v5 linear perpetuals: qty in the base coin"),
}  # fmt: skip
# Notionals that fill on every kind: option premiums are BTC/ETH, so 1.0 is a real order there.
CONFIG = MetricsConfig(cost_notionals=(1.0, 10_000.0, 100_000.0))


def _published(instrument: str, venue: str) -> tuple[str, float]:
    for pattern, kind, unit in PUBLISHED[venue][1]:
        if fnmatchcase(instrument, pattern):
            return kind, unit
    raise AssertionError(f"no published spec for {instrument}")


def _notional(kind: str, unit: float, price: float, size: float) -> float:
    return size * unit if kind == "inverse" else price * size * unit


def _base(kind: str, unit: float, price: float, size: float) -> float:
    return size * unit / price if kind == "inverse" else size * unit


def _by_hand(
    kind: str, unit: float, bids: dict[float, float], asks: dict[float, float]
) -> tuple[float, list[float], list[float | None], list[float | None]]:
    """mid, depth of bids per band, buy and sell cost per notional, from the venue's sizes."""
    best_bids = sorted(bids.items(), reverse=True)[: CONFIG.scan_levels]
    best_asks = sorted(asks.items())[: CONFIG.scan_levels]
    mid = (best_bids[0][0] + best_asks[0][0]) / 2
    depths = [
        sum(_notional(kind, unit, p, q) for p, q in best_bids if p >= mid * (1.0 - b * 1e-4))
        for b in DEPTH_BANDS_BPS
    ]

    def cost(levels: list[tuple[float, float]], target: float) -> float | None:
        filled = quantity = 0.0
        for price, size in levels:
            notional = _notional(kind, unit, price, size)
            if filled + notional >= target:
                vwap = target / (quantity + (target - filled) / price)
                return abs(1e4 * (vwap - mid) / mid)
            filled += notional
            quantity += _base(kind, unit, price, size)
        return None

    buys = [cost(best_asks, n) for n in CONFIG.cost_notionals]
    sells = [cost(best_bids, n) for n in CONFIG.cost_notionals]
    return mid, depths, buys, sells


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("venue", sorted(PUBLISHED))
def test_depth_and_cost_match_a_hand_computation_from_the_published_spec(venue: str) -> None:
    registry = bundled_registry()
    pipeline = Pipeline(CONFIG)
    books: dict[str, tuple[dict[float, float], dict[float, float]]] = {}
    checked: dict[str, int] = {}
    filled = nonzero = 0
    for delta, position in read_raw(venue, recording(PUBLISHED[venue][0])):
        spec = registry.get(delta.instrument)
        kind, unit = _published(delta.instrument, venue)
        assert spec is not None, f"{delta.instrument} is not in the bundled registry"
        assert (spec.kind, spec.contract_size) == (kind, unit), delta.instrument
        output = pipeline.process(registry.convert(delta), position)
        if delta.is_snapshot:
            books[delta.instrument] = ({}, {})
        bids, asks = books[delta.instrument]
        apply_levels(bids, delta.bid_prices, delta.bid_sizes)
        apply_levels(asks, delta.ask_prices, delta.ask_sizes)
        record = output.imbalance
        if record is None or checked.get(delta.instrument, 0) >= 60:
            continue
        checked[delta.instrument] = checked.get(delta.instrument, 0) + 1
        mid, depths, buys, sells = _by_hand(kind, unit, bids, asks)
        assert record["mid"] == mid
        assert record["quote_currency"] == spec.quote
        for band, depth in zip(DEPTH_BANDS_BPS, depths, strict=True):
            assert _close(record[f"depth_bid_{band}bps"], depth), (record["record_id"], band)
        for entry, buy, sell in zip(record["cost_to_trade"], buys, sells, strict=True):
            assert _close(entry["buy_bps"], buy), (record["record_id"], entry)
            assert _close(entry["sell_bps"], sell), (record["record_id"], entry)
            filled += entry["buy_bps"] is not None
        nonzero += record["depth_bid_25bps"] > 0.0
    assert checked, "no records"
    assert filled > 0, "no order filled: the comparison would prove nothing"
    if venue != "DERIBIT":  # option books are wider than 25 bps around the mid
        assert nonzero > 0
