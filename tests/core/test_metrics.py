"""Hand-computed vectors for every metric (definitions: docs/metrics.md)."""

from __future__ import annotations

import math
import random
from collections import deque

import pytest

from streams.core.config import MetricsConfig
from streams.core.pipeline import Pipeline
from tests.core.helpers import at, delta

pytestmark = pytest.mark.unit

BIDS = [(100.0, 2.0), (99.0, 3.0), (98.0, 5.0)]
ASKS = [(101.0, 1.0), (102.0, 4.0), (103.0, 5.0)]


def first_record(config: MetricsConfig | None = None) -> dict:
    pipeline = Pipeline(config)
    out = pipeline.process(delta(BIDS, ASKS, snapshot=True), at(0))
    assert out.imbalance is not None
    return out.imbalance


def test_top_of_book_metrics() -> None:
    r = first_record()
    assert (r["best_bid"], r["best_bid_size"], r["best_ask"], r["best_ask_size"]) == (
        100,
        2,
        101,
        1,
    )
    assert r["mid"] == 100.5
    assert r["spread_bps"] == pytest.approx(1e4 * 1.0 / 100.5)
    assert r["queue_imbalance"] == pytest.approx((2 - 1) / 3)
    assert r["weighted_mid"] == pytest.approx((2 * 101 + 1 * 100) / 3)
    # k=5 and k=10 use every level when a side has fewer: (10 - 10) / 20
    assert r["depth_imbalance_5"] == 0.0
    assert r["depth_imbalance_10"] == 0.0
    assert (r["bid_levels"], r["ask_levels"]) == (3, 3)


def test_identity_fields_trace_the_input() -> None:
    r = first_record()
    assert r["record_id"] == "book-deltas/0/0"
    assert (r["exchange"], r["symbol"], r["event_time"], r["receive_time"]) == (
        "TEST", "BTC-USDT", 1_000_000, 1_000_005,
    )  # fmt: skip
    assert len(r["config_hash"]) == 16


def test_depth_bands_in_quote_notional() -> None:
    r = first_record()
    # 10 bps of 100.5: bids >= 100.3995, asks <= 100.6005 -> nothing inside
    assert (r["depth_bid_10bps"], r["depth_ask_10bps"]) == (0.0, 0.0)
    # 100 bps: bids >= 99.495 (100 x 2), asks <= 101.505 (101 x 1)
    assert (r["depth_bid_100bps"], r["depth_ask_100bps"]) == (200.0, 101.0)


def test_cost_to_trade_walks_the_book_and_is_null_when_too_thin() -> None:
    r = first_record(MetricsConfig(cost_notionals=(150.0, 1e9)))
    small, huge = r["cost_to_trade"]
    buy_vwap = 150.0 / (1.0 + 49.0 / 102.0)  # 101 x 1 fills 101, then 49 of notional at 102
    assert small["notional"] == 150.0
    assert small["buy_bps"] == pytest.approx(1e4 * (buy_vwap - 100.5) / 100.5)
    assert small["sell_bps"] == pytest.approx(1e4 * (100.5 - 100.0) / 100.5)  # 1.5 @ 100
    assert huge == {"notional": 1e9, "buy_bps": None, "sell_bps": None}


def ofi_after(*updates: tuple[list, list]) -> list[float | None]:
    pipeline = Pipeline()
    out = [pipeline.process(delta(BIDS, ASKS, snapshot=True), at(0)).imbalance["ofi"]]
    for i, (bids, asks) in enumerate(updates, start=1):
        record = pipeline.process(delta(bids, asks, t=1_000_000 + i), at(i)).imbalance
        out.append(record["ofi"])
    return out


def test_ofi_is_null_first_then_follows_cont_kukanov_stoikov() -> None:
    assert ofi_after(([(100.0, 3.0)], [])) == [None, 3.0 - 2.0]  # same prices: size change
    assert ofi_after(([], [(101.0, 4.0)])) == [None, -(4.0 - 1.0)]
    assert ofi_after(([(100.5, 1.0)], [])) == [None, 1.0]  # bid improves: + new queue


def test_ofi_price_moving_away_and_back() -> None:
    away_and_back = ofi_after(([(100.0, 0.0)], []), ([(100.0, 2.0)], []))
    # best bid 100x2 -> 99x3: -2 (old queue gone); back to 100x2: +2
    assert away_and_back == [None, -2.0, 2.0]
    ask_away = ofi_after(([], [(101.0, 0.0)]))
    assert ask_away == [None, 1.0]  # ask 101x1 -> 102x4: + old ask queue


def test_multi_level_ofi_level_one_equals_ofi_and_covers_ten_levels() -> None:
    pipeline = Pipeline()
    pipeline.process(delta(BIDS, ASKS, snapshot=True), at(0))
    r = pipeline.process(delta([(99.0, 1.0)], [(102.0, 6.0)], t=2_000_000), at(1)).imbalance
    assert len(r["mlofi"]) == 10
    assert r["mlofi"][0] == r["ofi"] == 0.0
    assert r["mlofi"][1] == (1.0 - 3.0) - (6.0 - 4.0)  # level 2: bid 3->1, ask 4->6
    assert r["mlofi"][3:] == [0.0] * 7  # missing levels on both records contribute nothing


def test_ofi_windows_sum_by_event_time() -> None:
    pipeline = Pipeline()
    pipeline.process(delta(BIDS, ASKS, snapshot=True, t=0), at(0))
    r1 = pipeline.process(delta([(100.0, 3.0)], [], t=500_000), at(1)).imbalance  # +1
    r2 = pipeline.process(delta([(100.0, 5.0)], [], t=1_600_000), at(2)).imbalance  # +2
    r3 = pipeline.process(delta([(100.0, 4.0)], [], t=11_000_000), at(3)).imbalance  # -1
    assert (r1["ofi_1s"], r1["ofi_10s"]) == (1.0, 1.0)
    assert (r2["ofi_1s"], r2["ofi_10s"]) == (2.0, 3.0)  # 500 ms fell out of the 1 s window
    assert (r3["ofi_1s"], r3["ofi_10s"]) == (-1.0, 1.0)  # (1.0, 11.0] keeps 1.6 s and 11 s


def _deque_windows(flows: list[tuple[int, float]]) -> list[tuple[float, float]]:
    """The OFI window sums as first written (a deque per window): the bits to keep."""
    windows = ((deque[tuple[int, float]](), 1_000_000), (deque[tuple[int, float]](), 10_000_000))
    sums = [0.0, 0.0]
    out = []
    for t, flow in flows:
        for w, (window, span) in enumerate(windows):
            window.append((t, flow))
            total = sums[w] + flow
            while window[0][0] <= t - span:
                total -= window.popleft()[1]
            sums[w] = total if len(window) > 1 else window[0][1]
        out.append((sums[0], sums[1]))
    return out


def test_ofi_windows_over_hours_of_records_and_a_restore_keep_their_bits() -> None:
    rng = random.Random(7)
    pipeline = Pipeline()
    records = [pipeline.process(delta(BIDS, ASKS, snapshot=True, t=0), at(0)).imbalance]
    t = 0
    for i in range(1, 6_000):
        t += rng.choice((0, 1_000, 20_000, 300_000, 2_000_000, -400_000))  # some out of order
        size = round(rng.uniform(0.1, 9.0), 3)
        if i == 3_000:  # a checkpoint hand-over in the middle
            state = pipeline.snapshot_state("TEST:BTC-USDT")
            pipeline = Pipeline()
            pipeline.restore_state("TEST:BTC-USDT", state)
        records.append(pipeline.process(delta([(100.0, size)], [], t=t), at(i)).imbalance)
    flows = [(r["event_time"], r["ofi"] or 0.0) for r in records if r is not None]

    sums = [(r["ofi_1s"], r["ofi_10s"]) for r in records if r is not None]

    assert len(sums) == 6_000
    assert repr(sums) == repr(_deque_windows(flows))  # the same bits, signs of zero too
    assert len({s for s, _ in sums}) > 1_000  # the sums moved


def test_z_scores_need_warm_up_then_flag_a_spread_blowout() -> None:
    config = MetricsConfig(z_min_samples=20, ewma_half_life_s=5.0, depth_z_band_bps=100)
    pipeline = Pipeline(config)
    pipeline.process(delta(BIDS, ASKS, snapshot=True, t=0), at(0))
    records = []
    for i in range(1, 60):  # the ask flickers between 101 and 101.5: a noisy but calm spread
        ask = 101.0 if i % 2 else 101.5
        other = 101.5 if i % 2 else 101.0
        out = pipeline.process(delta([], [(ask, 1.0), (other, 0.0)], t=i * 100_000), at(i))
        records.append(out.imbalance)
    assert all(r["spread_z"] is None for r in records[:18])
    calm = [abs(r["spread_z"]) for r in records[25:]]
    assert max(calm) < 3.0
    assert all(math.isfinite(r["depth_z"]) for r in records[25:])
    gone = [(100.0, 0.0), (99.0, 0.0), (98.0, 0.0), (90.0, 5.0)]
    blowout = pipeline.process(delta(gone, [], t=6_100_000), at(60)).imbalance
    assert blowout["spread_z"] > 5.0  # best bid falls to 90: the spread is ten times wider
    assert blowout["depth_z"] is None  # nothing left within 100 bps: log depth is undefined
