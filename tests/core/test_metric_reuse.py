"""Values reused between records (top sums, previous top, bands, fills) equal a recomputation.

The reference for every step is a pipeline restored from the state before that step: a restored
pipeline has no reuse cache, so it computes every metric from the book. Equality is checked on
the JSON text, so a flipped sign of zero or a last-bit difference fails too.
"""

from __future__ import annotations

import json
import random

import pytest

from streams.core.book import UNCHANGED, BookSide
from streams.core.config import MetricsConfig
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta
from tests.core.helpers import at, delta

pytestmark = pytest.mark.unit

TICK = 0.01
# Small limits so the scan edge, the MLOFI depth and the band and fill edges are crossed often.
CONFIG = MetricsConfig(
    max_levels=40, scan_levels=14, mlofi_levels=3, cost_notionals=(50.0, 400.0, 5000.0),
    z_min_samples=2, ewma_half_life_s=1.0,
)  # fmt: skip
WIDE = MetricsConfig(
    max_levels=60, scan_levels=60, mlofi_levels=3, cost_notionals=(50.0, 400.0, 1500.0),
    z_min_samples=2, ewma_half_life_s=1.0,
)  # fmt: skip


def _price(ticks: int) -> float:
    return round(100.0 + ticks * TICK, 2)


def _snapshot(rng: random.Random, t: int) -> BookDelta:
    bids = [(_price(-k), round(rng.uniform(0.1, 3.0), 3)) for k in range(1, 25)]
    asks = [(_price(k), round(rng.uniform(0.1, 3.0), 3)) for k in range(1, 25)]
    return delta(bids, asks, t=t, snapshot=True)


def _packet(rng: random.Random, best_bid: int, best_ask: int, t: int) -> BookDelta:
    """1-4 level changes: some at the best price, most near it, some deep, some deletes, prices
    never crossing."""
    bids, asks = [], []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()  # the best level rarely, so the mid often stays and values are reused
        depth = 0 if roll < 0.1 else rng.randint(1, 14) if roll < 0.7 else rng.randint(15, 120)
        size = 0.0 if rng.random() < 0.3 else round(rng.uniform(0.05, 4.0), 3)
        if rng.random() < 0.5:
            bids.append((_price(min(best_bid + rng.randint(-1, 0), best_ask - 1) - depth), size))
        else:
            asks.append((_price(max(best_ask + rng.randint(0, 1), best_bid + 1) + depth), size))
    return delta(bids, asks, t=t)


def _ticks(price: float) -> int:
    return round((price - 100.0) / TICK)


def _json(output: object) -> str:
    return json.dumps(output)


@pytest.mark.parametrize("config", [CONFIG, WIDE], ids=["scan-edge", "band-edges"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_record_equals_one_computed_without_reuse(seed: int, config: MetricsConfig) -> None:
    rng = random.Random(seed)
    pipeline = Pipeline(config)
    t = 1_000_000
    reused = 0
    for step in range(1500):
        t += rng.choice((0, 1_000, 50_000, 400_000))
        book = pipeline.book("TEST:BTC-USDT")
        if step % 400 == 0 or book is None or not book.valid:
            packet = _snapshot(rng, t)
        else:
            best_bid, best_ask = _ticks(book.bids.best()[0]), _ticks(book.asks.best()[0])
            packet = _packet(rng, best_bid, best_ask, t)
            reused += book.bids.changed_from > 0 and book.asks.changed_from > 0
        reference = Pipeline(config)
        for instrument in pipeline.instruments():
            reference.restore_state(instrument, pipeline.snapshot_state(instrument))
        got = pipeline.process(packet, at(step))
        want = reference.process(packet, at(step))
        assert _json(got.imbalance) == _json(want.imbalance), f"step {step}"
        assert _json(got.suggestions) == _json(want.suggestions), f"step {step}"
    assert reused > 100  # the reuse paths ran


def test_process_many_equals_process_one_at_a_time() -> None:
    rng = random.Random(7)
    scratch = Pipeline(CONFIG)
    items = []
    for i in range(300):
        book = scratch.book("TEST:BTC-USDT")
        t = 1_000_000 + i * 10_000
        if book is None or not book.valid:
            packet = _snapshot(rng, t)
        else:
            best_bid, best_ask = _ticks(book.bids.best()[0]), _ticks(book.asks.best()[0])
            packet = _packet(rng, best_bid, best_ask, t)
        scratch.process(packet, at(i))
        items.append((packet, at(i)))
    one = Pipeline(CONFIG)
    expected = [one.process(d, p) for d, p in items]
    assert Pipeline(CONFIG).process_many(items) == expected
    assert sum(o.imbalance is not None for o in expected) > 100


def test_book_side_records_the_lowest_changed_level() -> None:
    asks = BookSide(1.0)
    asks.apply([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0], 10)
    assert asks.changed_from == 0  # a new side is changed from the top
    asks.changed_from = UNCHANGED
    asks.apply([3.0], [5.0], 10)  # update the third level
    assert asks.changed_from == 2
    asks.apply([9.0], [0.0], 10)  # deleting an unknown level changes nothing
    assert asks.changed_from == 2
    asks.apply([1.5], [1.0], 10)  # insert after the best level
    assert asks.changed_from == 1
    asks.changed_from = UNCHANGED
    asks.apply([5.0, 6.0], [1.0, 1.0], 5)  # the append past max_levels is trimmed
    assert asks.changed_from == 5
    assert len(asks) == 5
    asks.clear()
    assert asks.changed_from == 0
