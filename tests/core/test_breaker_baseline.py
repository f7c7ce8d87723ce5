"""The breaker's per-statistic baseline: slice extremes, nearest-rank quantiles, stressed slices."""

from __future__ import annotations

import json

import pytest

from streams.core.breaker_windows import Baseline

pytestmark = pytest.mark.unit

MICROS = 1_000_000


def fed(values: list[float], *, lowest: bool = True, tail: float = 0.02) -> Baseline:
    """A baseline of 10 s slices over 1000 s fed one value per slice, then one record later."""
    baseline = Baseline(10.0, 1000.0, tail, lowest, 180.0)
    for i, value in enumerate(values):
        baseline.add(i * 10 * MICROS, value)
    baseline.add(len(values) * 10 * MICROS, 0.0)  # rolls the last slice in
    return baseline


def test_median_and_tail_are_nearest_rank_values_of_the_sample() -> None:
    lows = fed([float(v) for v in range(100, 0, -1)])
    highs = fed([float(v) for v in range(1, 101)], lowest=False)

    assert (lows.median, lows.edge) == (51.0, 2.0)  # rank int(0.02 * 99) = 1 from the bottom
    assert (highs.median, highs.edge) == (51.0, 99.0)
    assert lows.history_s() == 1000.0
    assert lows.armed
    assert lows.ratio == 2.0 / 51.0


def test_a_slice_keeps_its_extreme_and_the_window_keeps_its_length() -> None:
    baseline = Baseline(10.0, 30.0, 0.02, lowest=True, min_history_s=180.0)
    for second, value in ((0, 5.0), (3, 1.0), (7, 4.0), (10, 8.0), (25, 6.0), (40, 9.0)):
        baseline.add(second * MICROS, value)

    # slices [0,10): 1, [10,20): 8, [20,30): 6 (none at 30-40: it repeats the last value, 6)
    assert list(baseline.samples) == [8.0, 6.0, 6.0]
    assert baseline.edge == 6.0


def test_slices_without_records_repeat_the_last_value_but_never_overflow() -> None:
    baseline = Baseline(10.0, 50.0, 0.02, lowest=True, min_history_s=180.0)
    baseline.add(0, 3.0)
    baseline.add(5 * MICROS, 7.0)  # the slice's minimum is 3, its last value 7
    baseline.add(10_000 * MICROS, 1.0)

    assert list(baseline.samples) == [7.0] * 5


def test_a_stressed_slice_is_left_out_of_what_is_normal() -> None:
    baseline = Baseline(10.0, 1000.0, 0.02, lowest=True, min_history_s=180.0)
    for i in range(20):
        baseline.add(i * 10 * MICROS, 100.0)
    baseline.add(200 * MICROS, 1.0)
    baseline.mark_stressed()
    baseline.add(210 * MICROS, 100.0)
    baseline.add(220 * MICROS, 100.0)

    assert 1.0 not in baseline.samples
    assert len(baseline.samples) == 21
    assert baseline.edge == 100.0


def test_state_round_trips_through_json_and_continues_identically() -> None:
    values = [float((i * 7919) % 97) for i in range(300)]
    whole = Baseline(10.0, 600.0, 0.02, lowest=False, min_history_s=180.0)
    first = Baseline(10.0, 600.0, 0.02, lowest=False, min_history_s=180.0)
    for i, value in enumerate(values[:150]):
        for baseline in (whole, first):
            baseline.add(i * 3 * MICROS, value)
    second = Baseline(10.0, 600.0, 0.02, lowest=False, min_history_s=180.0)
    second.load_state(json.loads(json.dumps(first.to_state(), allow_nan=False)))
    for i, value in enumerate(values[150:], start=150):
        whole.add(i * 3 * MICROS, value)
        second.add(i * 3 * MICROS, value)

    assert second.to_state() == whole.to_state()


def test_nan_is_not_a_measurement() -> None:
    baseline = fed([5.0, float("nan"), 3.0, float("nan"), 4.0])

    assert list(baseline.samples) == [5.0, 5.0, 3.0, 3.0, 4.0]
    assert sorted(baseline.samples) == baseline.ordered
