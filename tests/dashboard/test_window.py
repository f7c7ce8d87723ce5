"""The live view's memory: bounded windows, time buckets, throttled frames, the suggestion log."""

from __future__ import annotations

import math
import shlex
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.cli import _parser, parse_time
from streams.dashboard.config import DashboardConfig
from streams.dashboard.exceptions import DashboardConfigurationError
from streams.dashboard.window import POINT_FIELDS, DashboardState, audit_command
from tests.dashboard.records import STRESS_INSTRUMENT, stress_outputs

pytestmark = pytest.mark.unit

BASE_US = 1_634_083_140_000_000


def imbalance(event_time_us: int, mid: float = 100.0, symbol: str = "BTC-USD") -> dict[str, Any]:
    """A real imbalance record of the stress scenario, moved to another time and mid."""
    template = next(o.record for o in stress_outputs() if o.kind == "imbalance")
    return {**template, "exchange": "BINANCE", "symbol": symbol, "event_time": event_time_us,
            "mid": mid}  # fmt: skip


def suggestions() -> list[dict[str, Any]]:
    return [o.record for o in stress_outputs() if o.kind == "suggestion"]


def merge(copy: list[list[Any]], frame: dict[str, Any], capacity: int) -> list[list[Any]]:
    """What the page does with a frame (dashboard.js applyInstrument), to check the protocol."""
    points = [] if frame["reset"] else list(copy)
    if frame["points"]:
        first = frame["points"][0][0]
        while points and points[-1][0] >= first:
            points.pop()
        points.extend(frame["points"])
    return points[-capacity:]


def test_window_keeps_only_the_newest_points_up_to_its_capacity() -> None:
    state = DashboardState(DashboardConfig(window_points=50, resolution_ms=100))

    state.ingest_imbalance(imbalance(BASE_US + i * 100_000, mid=100.0 + i) for i in range(1000))

    view = state.snapshot()["instruments"]["BINANCE:BTC-USD"]
    assert len(view["points"]) == 50
    assert [p[1] for p in view["points"]] == [100.0 + i for i in range(950, 1000)]
    assert view["records"] == 1000


def test_records_of_one_time_bucket_collapse_to_the_latest() -> None:
    state = DashboardState(DashboardConfig(resolution_ms=100))

    # ten records 5 ms apart: one 100 ms bucket; then one record in the next bucket
    state.ingest_imbalance(imbalance(BASE_US + i * 5_000, mid=100.0 + i) for i in range(10))
    state.ingest_imbalance([imbalance(BASE_US + 100_000, mid=200.0)])

    points = state.snapshot()["instruments"]["BINANCE:BTC-USD"]["points"]
    assert [(p[0], p[1]) for p in points] == [
        (BASE_US // 1000, 109.0),
        (BASE_US // 1000 + 100, 200.0),
    ]
    assert len(points[0]) == 1 + len(POINT_FIELDS)


def test_a_burst_becomes_one_frame_per_instrument_with_a_bounded_number_of_points() -> None:
    state = DashboardState(DashboardConfig(resolution_ms=100))
    state.drain()

    # 10,000 records in one second of event time for one instrument, 10 for another
    state.ingest_imbalance(imbalance(BASE_US + i * 100) for i in range(10_000))
    state.ingest_imbalance(imbalance(BASE_US + i * 100_000, symbol="ETH-USD") for i in range(10))
    frame = state.drain()

    assert frame is not None
    assert sorted(frame["instruments"]) == ["BINANCE:BTC-USD", "BINANCE:ETH-USD"]
    assert len(frame["instruments"]["BINANCE:BTC-USD"]["points"]) == 10  # one per 100 ms
    assert frame["instruments"]["BINANCE:BTC-USD"]["records"] == 10_000
    assert frame["status"]["imbalance"] == 10_010
    assert state.drain() is None  # nothing changed since: nothing to push


def test_a_frame_carries_only_the_points_changed_since_the_previous_one() -> None:
    state = DashboardState(DashboardConfig(resolution_ms=100))
    state.ingest_imbalance(imbalance(BASE_US + i * 100_000) for i in range(20))
    state.drain()

    state.ingest_imbalance([imbalance(BASE_US + 1_950_000, mid=7.0)])  # same bucket as the last
    state.ingest_imbalance([imbalance(BASE_US + 2_000_000, mid=8.0)])  # a new bucket
    frame = state.drain()

    assert frame is not None
    points = frame["instruments"]["BINANCE:BTC-USD"]["points"]
    assert [(p[0] - BASE_US // 1000, p[1]) for p in points] == [(1900, 7.0), (2000, 8.0)]
    assert frame["instruments"]["BINANCE:BTC-USD"]["reset"] is False


def test_time_going_backwards_resets_the_window_and_says_so() -> None:
    state = DashboardState(DashboardConfig(resolution_ms=100))
    state.ingest_imbalance(imbalance(BASE_US + i * 100_000) for i in range(5))
    state.drain()

    state.ingest_imbalance([imbalance(BASE_US - 60_000_000, mid=1.0)])
    frame = state.drain()

    assert frame is not None
    instrument = frame["instruments"]["BINANCE:BTC-USD"]
    assert instrument["reset"] is True
    assert [p[1] for p in instrument["points"]] == [1.0]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.one_of(
            st.lists(st.integers(0, 400), min_size=1, max_size=30).map(lambda ms: ("add", ms)),
            st.just(("drain", [])),
        ),
        max_size=25,
    )
)
def test_merging_every_frame_reproduces_the_window(steps: list[tuple[str, list[int]]]) -> None:
    capacity = 12
    state = DashboardState(DashboardConfig(resolution_ms=10, window_points=capacity))
    copy: list[list[Any]] = []
    clock_ms = 0
    for kind, gaps in steps:
        if kind == "add":
            for gap in gaps:
                clock_ms += gap
                state.ingest_imbalance([imbalance(BASE_US + clock_ms * 1000, mid=float(gap))])
        frame = state.drain()
        if frame is not None and frame["instruments"]:
            copy = merge(copy, frame["instruments"]["BINANCE:BTC-USD"], capacity)
    frame = state.drain()
    if frame is not None and frame["instruments"]:
        copy = merge(copy, frame["instruments"]["BINANCE:BTC-USD"], capacity)

    view = state.snapshot()["instruments"].get("BINANCE:BTC-USD", {"points": []})
    assert copy == view["points"]


def test_the_least_recently_updated_instrument_is_evicted_and_reported() -> None:
    state = DashboardState(DashboardConfig(max_instruments=3))
    for symbol in ("A", "B", "C"):
        state.ingest_imbalance([imbalance(BASE_US, symbol=symbol)])
    state.ingest_imbalance([imbalance(BASE_US + 100_000, symbol="A")])  # A is fresh again
    state.drain()

    state.ingest_imbalance([imbalance(BASE_US, symbol="D")])
    frame = state.drain()

    assert state.instruments() == ["BINANCE:A", "BINANCE:C", "BINANCE:D"]
    assert frame is not None
    assert frame["removed"] == ["BINANCE:B"]
    assert frame["status"]["evicted"] == 1


def test_suggestions_set_the_breaker_state_and_queue_for_the_next_frame() -> None:
    state = DashboardState(DashboardConfig())
    made = suggestions()[:3]  # WATCH, THROTTLE, HALT

    state.ingest_suggestions(made)
    frame = state.drain()

    assert frame is not None
    assert [s["suggestion_id"] for s in frame["suggestions"]] == [s["suggestion_id"] for s in made]
    assert frame["instruments"][STRESS_INSTRUMENT]["state"] == made[-1]["state"] == "HALT"
    assert state.drain() is None


def test_the_suggestion_log_is_bounded_and_keeps_the_newest() -> None:
    state = DashboardState(DashboardConfig(suggestion_log=2))
    made = suggestions()

    state.ingest_suggestions(made)

    kept = [s["suggestion_id"] for s in state.snapshot()["suggestions"]]
    assert kept == [s["suggestion_id"] for s in made[-2:]]


def test_a_suggestion_view_has_its_evidence_and_finite_numbers_only() -> None:
    record = suggestions()[2]
    broken = {**record, "metrics": {**record["metrics"], "spread_z": math.nan}}
    state = DashboardState(DashboardConfig())

    state.ingest_suggestions([broken])
    view = state.snapshot()["suggestions"][0]

    assert view["metrics"]["spread_z"] is None
    assert [r["rule"] for r in view["reasons"]] == [r["rule"] for r in record["reasons"]]
    assert view["source"] == {
        "topic": record["source_topic"],
        "partition": record["source_partition"],
        "offset": record["source_offset"],
    }


def test_the_audit_command_selects_exactly_the_suggestion_event_time() -> None:
    record = suggestions()[2]

    command = audit_command(STRESS_INSTRUMENT, record["event_time"])
    args = _parser().parse_args(shlex.split(command)[1:])

    assert args.command == "audit"
    assert args.instrument == [STRESS_INSTRUMENT]
    assert parse_time(args.start) == record["event_time"]
    assert parse_time(args.end) == record["event_time"] + 1


@pytest.mark.parametrize(
    "options",
    [{"port": 70_000}, {"push_interval_s": 0.0}, {"window_points": 0}, {"backfill": -1}],
)
def test_out_of_range_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(DashboardConfigurationError):
        DashboardConfig(**options)


@pytest.mark.parametrize(
    "instrument",
    ["X$(touch pwned):SYM", "x:`touch pwned`", "x:a'b; touch pwned", "-x:SYM", "x:a b\nc"],
)
def test_the_audit_command_quotes_a_hostile_instrument_as_one_argument(instrument: str) -> None:
    command = audit_command(instrument, 1_618_678_100_000_000)

    args = _parser().parse_args(shlex.split(command)[1:])

    assert args.instrument == [instrument]
