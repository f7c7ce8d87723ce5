from __future__ import annotations

import pytest

from streams.config import shared_recordings
from streams.core.pipeline import Pipeline
from streams.sources.raw import read_raw
from tests.core.helpers import at, delta

pytestmark = pytest.mark.unit

RECORDINGS = shared_recordings()
BYBIT = RECORDINGS / "BYBIT.jsonl.zst"

BIDS = [(100.0, 2.0), (99.0, 3.0)]
ASKS = [(101.0, 1.0), (102.0, 4.0)]


def test_a_sequence_gap_silences_the_instrument_until_the_next_snapshot() -> None:
    pipeline = Pipeline()
    assert pipeline.process(delta(BIDS, ASKS, snapshot=True, seq=10), at(0)).imbalance
    assert pipeline.process(delta([(100.0, 1.0)], [], seq=11, prev=10), at(1)).imbalance
    assert pipeline.process(delta([(100.0, 2.0)], [], seq=13, prev=12), at(2)).imbalance is None
    assert pipeline.process(delta([(100.0, 3.0)], [], seq=14, prev=13), at(3)).imbalance is None
    assert pipeline.counters.gaps == 1
    assert pipeline.counters.dropped_invalid == 1
    rebuilt = pipeline.process(delta(BIDS, ASKS, snapshot=True, seq=20), at(4)).imbalance
    assert rebuilt is not None
    assert rebuilt["ofi"] is None
    assert rebuilt["best_bid_size"] == 2.0


def test_a_crossed_book_emits_nothing_until_rebuilt() -> None:
    pipeline = Pipeline()
    pipeline.process(delta(BIDS, ASKS, snapshot=True), at(0))
    assert pipeline.process(delta([(101.5, 1.0)], []), at(1)).imbalance is None
    assert pipeline.counters.crossed == 1
    assert pipeline.process(delta([(99.5, 1.0)], []), at(2)).imbalance is None
    assert pipeline.process(delta(BIDS, ASKS, snapshot=True), at(3)).imbalance is not None


def test_empty_and_one_sided_books_emit_nothing() -> None:
    pipeline = Pipeline()
    assert pipeline.process(delta([], [], snapshot=True), at(0)).imbalance is None
    assert pipeline.process(delta(BIDS, []), at(1)).imbalance is None
    assert pipeline.process(delta([], ASKS), at(2)).imbalance is not None
    assert pipeline.process(delta([(100.0, 0.0), (99.0, 0.0)], []), at(3)).imbalance is None


def test_deltas_before_any_snapshot_are_dropped() -> None:
    pipeline = Pipeline()
    assert pipeline.process(delta(BIDS, ASKS), at(0)).imbalance is None
    assert pipeline.counters.dropped_invalid == 1


def test_instruments_are_independent() -> None:
    pipeline = Pipeline()
    pipeline.process(delta(BIDS, ASKS, snapshot=True, symbol="A-B"), at(0))
    pipeline.process(delta(BIDS, ASKS, snapshot=True, symbol="C-D"), at(1))
    pipeline.process(delta([(101.5, 1.0)], [], symbol="A-B"), at(2))  # crosses A-B only
    assert pipeline.process(delta([(99.0, 1.0)], [], symbol="C-D"), at(3)).imbalance is not None
    assert pipeline.instruments() == ["TEST:A-B", "TEST:C-D"]


def _recording(limit: int) -> list:
    items = []
    for item in read_raw(None, BYBIT):
        items.append(item)
        if len(items) == limit:
            break
    return items


@pytest.fixture(scope="module")
def bybit() -> list:
    if not BYBIT.exists():
        pytest.fail(f"recording missing: {BYBIT}")
    return _recording(6000)


def test_same_input_gives_bit_identical_records(bybit: list) -> None:
    one, two = Pipeline(), Pipeline()
    first = [one.process(d, p) for d, p in bybit]
    second = [two.process(d, p) for d, p in bybit]
    records = [o.imbalance for o in first if o.imbalance]
    assert len(records) > 1000
    assert records == [o.imbalance for o in second if o.imbalance]


def test_checkpoint_and_restore_equals_an_uninterrupted_run(bybit: list) -> None:
    uninterrupted = Pipeline()
    expected = [uninterrupted.process(d, p) for d, p in bybit]
    half = len(bybit) // 2
    before = Pipeline()
    for d, p in bybit[:half]:
        before.process(d, p)
    after = Pipeline()
    for instrument in before.instruments():
        after.restore_state(instrument, before.snapshot_state(instrument))
    resumed = [after.process(d, p) for d, p in bybit[half:]]
    assert [o.imbalance for o in resumed] == [o.imbalance for o in expected[half:]]
    assert [o.suggestions for o in resumed] == [o.suggestions for o in expected[half:]]


def test_forget_drops_an_instrument() -> None:
    pipeline = Pipeline()
    pipeline.process(delta(BIDS, ASKS, snapshot=True), at(0))
    pipeline.forget("TEST:BTC-USDT")
    assert pipeline.instruments() == []


def test_deltas_of_unknown_instruments_hold_no_memory() -> None:
    pipeline = Pipeline()
    for i in range(1000):
        pipeline.process(delta(BIDS, ASKS, symbol=f"FAKE{i}-USD"), at(i))
    assert pipeline.instruments() == []
    assert pipeline.counters.dropped_invalid == 1000


def test_a_huge_packet_is_bounded_by_max_levels() -> None:
    from streams.core.config import MetricsConfig

    pipeline = Pipeline(MetricsConfig(max_levels=50))
    bids = [(1000.0 - (i * 7919 % 100_000) * 0.001, 1.0) for i in range(100_000)]
    out = pipeline.process(delta(bids, [(2000.0, 1.0)], snapshot=True), at(0))
    assert out.imbalance is not None
    assert out.imbalance["bid_levels"] == 50
    assert out.imbalance["best_bid"] == max(p for p, _ in bids)
