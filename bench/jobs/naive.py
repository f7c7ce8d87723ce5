"""The straightforward way: a dict per book side, sorted on every event, metrics in plain Python.

What a first version of the job looks like: same inputs and output schema as the product, the
same metric definitions (docs/metrics.md), none of the engineering (no sorted ladders, no reuse).
"""

from __future__ import annotations

import math
from typing import Any

BANDS = (10, 25, 50, 100)
NOTIONALS = (10_000.0, 100_000.0)
HALF_LIFE_US = 60e6


class NaiveInstrument:
    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.previous: list[tuple[float, float, float, float]] | None = None
        self.flows: list[tuple[int, float]] = []
        self.ewma: dict[str, list[float]] = {}


def _apply(side: dict[float, float], prices: list[float], sizes: list[float]) -> None:
    for price, size in zip(prices, sizes, strict=True):
        if size == 0.0:
            side.pop(price, None)
        else:
            side[price] = size


def _cost(levels: list[tuple[float, float]], notional: float, mid: float) -> float | None:
    filled = quantity = 0.0
    for price, size in levels:
        if filled + price * size >= notional:
            quantity += (notional - filled) / price
            return abs(1e4 * (notional / quantity - mid) / mid)
        filled += price * size
        quantity += size
    return None


def _z(state: dict[str, list[float]], name: str, value: float, t: int) -> float | None:
    mean, var, n, last = state.setdefault(name, [value, 0.0, 0, t])
    z = (value - mean) / math.sqrt(var) if n >= 50 and var > 0 else None
    alpha = 1.0 - math.exp(-math.log(2) * max(t - last, 0) / HALF_LIFE_US)
    diff = value - mean
    state[name] = [mean + alpha * diff, (1 - alpha) * (var + alpha * diff * diff), n + 1, t]
    return z


def on_delta(books: dict[str, NaiveInstrument], d: dict[str, Any]) -> dict[str, Any] | None:
    key = f"{d['exchange']}:{d['symbol']}"
    inst = books.setdefault(key, NaiveInstrument())
    if d["is_snapshot"]:
        inst.bids.clear()
        inst.asks.clear()
        inst.previous = None
    _apply(inst.bids, d["bid_prices"], d["bid_sizes"])
    _apply(inst.asks, d["ask_prices"], d["ask_sizes"])
    if not inst.bids or not inst.asks:
        return None
    bids = sorted(inst.bids.items(), reverse=True)
    asks = sorted(inst.asks.items())
    (pb, qb), (pa, qa) = bids[0], asks[0]
    mid = (pb + pa) / 2
    spread = 1e4 * (pa - pb) / mid
    sb5, sa5 = sum(q for _, q in bids[:5]), sum(q for _, q in asks[:5])
    sb10, sa10 = sum(q for _, q in bids[:10]), sum(q for _, q in asks[:10])
    top = [
        (bids[i] if i < len(bids) else (0.0, 0.0)) + (asks[i] if i < len(asks) else (math.inf, 0.0))
        for i in range(10)
    ]
    mlofi = None
    if inst.previous is not None:
        mlofi = [
            (bq if bp >= pbp else 0) - (pbq if bp <= pbp else 0)
            - (aq if ap <= pap else 0) + (paq if ap >= pap else 0)
            for (bp, bq, ap, aq), (pbp, pbq, pap, paq) in zip(top, inst.previous, strict=True)
        ]  # fmt: skip
    inst.previous = top
    t = d["event_time"]
    inst.flows.append((t, mlofi[0] if mlofi else 0.0))
    inst.flows = [(ft, f) for ft, f in inst.flows if ft > t - 10_000_000]
    depth = {}
    for band in BANDS:
        depth[f"depth_bid_{band}bps"] = sum(p * q for p, q in bids if p >= mid * (1 - band * 1e-4))
        depth[f"depth_ask_{band}bps"] = sum(p * q for p, q in asks if p <= mid * (1 + band * 1e-4))
    total = depth["depth_bid_25bps"] + depth["depth_ask_25bps"]
    return {
        "record_id": "", "exchange": d["exchange"], "symbol": d["symbol"], "event_time": t,
        "receive_time": d["receive_time"], "source_topic": "", "source_partition": 0,
        "source_offset": 0, "config_hash": "naive",
        "best_bid": pb, "best_bid_size": qb, "best_ask": pa, "best_ask_size": qa, "mid": mid,
        "spread_bps": spread, "weighted_mid": (qb * pa + qa * pb) / (qb + qa),
        "queue_imbalance": (qb - qa) / (qb + qa),
        "depth_imbalance_5": (sb5 - sa5) / (sb5 + sa5),
        "depth_imbalance_10": (sb10 - sa10) / (sb10 + sa10),
        "ofi": mlofi[0] if mlofi else None, "mlofi": mlofi,
        "ofi_1s": sum(f for ft, f in inst.flows if ft > t - 1_000_000),
        "ofi_10s": sum(f for _, f in inst.flows),
        **depth,
        "cost_to_trade": [
            {"notional": n, "buy_bps": _cost(asks, n, mid), "sell_bps": _cost(bids, n, mid)}
            for n in NOTIONALS
        ],
        "spread_z": _z(inst.ewma, "spread", math.log(spread), t),
        "depth_z": _z(inst.ewma, "depth", math.log(total), t) if total > 0 else None,
        "bid_levels": len(bids), "ask_levels": len(asks),
    }  # fmt: skip
