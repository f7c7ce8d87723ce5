"""The one validation boundary: `BookDelta.validate` refuses exactly what some later stage could
not hold (overflowing metrics, dates a sink cannot store, ids that are no key), and a failure
inside the core invalidates the instrument instead of leaving its book half-applied."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from streams.core.exceptions import InvalidDeltaError
from streams.core.pipeline import DROP_REASONS, Pipeline
from streams.core.types import (
    MAX_ID_BYTES,
    MAX_PRICE,
    MAX_SIZE,
    MAX_TIME_US,
    MIN_PRICE,
    BookDelta,
    SourcePosition,
)

pytestmark = pytest.mark.unit

T0 = 1_600_000_000_000_000
AT = SourcePosition("t", 0, 0)
GOOD = BookDelta("TEST", "BTC-USD", "BTCUSD", T0, T0, True, (100.0,), (1.0,), (101.0,), (1.0,))

REFUSED = {
    "bid 1e308": {"bid_prices": (1e308,)},
    "ask 1.7e308": {"ask_prices": (1.7e308,)},
    "price above the limit": {"ask_prices": (MAX_PRICE * 2,)},
    "price below the limit": {"bid_prices": (MIN_PRICE / 2,)},
    "price nan": {"bid_prices": (math.nan,)},
    "size inf": {"bid_sizes": (math.inf,)},
    "size 1e300": {"ask_sizes": (1e300,)},
    "size nan": {"ask_sizes": (math.nan,)},
    "size negative": {"ask_sizes": (-1.0,)},
    "event time int64 max": {"event_time": 2**63 - 1},
    "event time int64 min": {"event_time": -(2**63)},
    "event time before 1970": {"event_time": -1},
    "receive time after 9999": {"receive_time": MAX_TIME_US + 1},
    "sequence beyond int64": {"sequence": 2**63},
    "prev_sequence below int64": {"prev_sequence": -(2**63) - 1},
    "empty exchange": {"exchange": ""},
    "empty symbol": {"symbol": ""},
    "symbol too long": {"symbol": "S" * (MAX_ID_BYTES + 1)},
    "symbol too many bytes": {"symbol": "é" * (MAX_ID_BYTES // 2 + 1)},
    "symbol with a newline": {"symbol": "BTC\nUSD"},
    "exchange with a NUL": {"exchange": "X\x00"},
    "lengths differ": {"bid_sizes": (1.0, 2.0)},
}


@pytest.mark.parametrize("change", REFUSED.values(), ids=REFUSED.keys())
def test_validate_refuses_what_a_later_stage_cannot_hold(change: dict[str, object]) -> None:
    with pytest.raises(InvalidDeltaError):
        replace(GOOD, **change).validate()  # type: ignore[arg-type]


ACCEPTED = {
    "edge prices and sizes": {
        "bid_prices": (MIN_PRICE,), "bid_sizes": (MAX_SIZE,),
        "ask_prices": (MAX_PRICE,), "ask_sizes": (0.0,),
    },
    "edge times": {"event_time": 0, "receive_time": MAX_TIME_US},
    "int64 sequences": {"sequence": 2**63 - 1, "prev_sequence": -(2**63), "checksum": 0},
    "unicode symbol": {"symbol": "é" * (MAX_ID_BYTES // 2)},
    "empty book": {"bid_prices": (), "bid_sizes": (), "ask_prices": (), "ask_sizes": ()},
}  # fmt: skip


@pytest.mark.parametrize("change", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_validate_accepts_the_edges_and_the_core_processes_them(change: dict[str, object]) -> None:
    delta = replace(GOOD, **change).validate()  # type: ignore[arg-type]
    pipeline = Pipeline()
    output = pipeline.process(delta, AT)
    assert output.imbalance is not None or output.dropped in DROP_REASONS
    if output.imbalance is not None:
        assert all(not isinstance(v, float) or not math.isnan(v) for v in output.imbalance.values())


def test_a_core_failure_invalidates_the_book_until_the_next_snapshot() -> None:
    pipeline = Pipeline()
    assert pipeline.process(GOOD, AT).imbalance is not None
    huge = replace(GOOD, bid_prices=(1e308,), ask_prices=(1.7e308,))  # not validated: the core
    with pytest.raises(InvalidDeltaError, match="BreakerInputError"):  # raises its input error
        pipeline.process(huge, AT)
    book = pipeline.book(GOOD.instrument)
    assert book is not None
    assert not book.valid
    assert pipeline.process(replace(GOOD, is_snapshot=False), AT).dropped == "awaiting-snapshot"
    assert pipeline.process(GOOD, AT).imbalance is not None


def test_every_delta_without_output_names_its_drop_reason() -> None:
    pipeline = Pipeline()
    delta = replace(GOOD, is_snapshot=False, sequence=2, prev_sequence=1)
    assert pipeline.process(delta, AT).dropped == "unknown-instrument"
    one_sided = replace(GOOD, ask_prices=(), ask_sizes=(), sequence=1)
    assert pipeline.process(one_sided, AT).dropped == "one-sided-book"
    assert pipeline.process(replace(GOOD, sequence=1), AT).dropped is None
    assert pipeline.process(replace(delta, prev_sequence=5), AT).dropped == "sequence-gap"
    assert pipeline.process(delta, AT).dropped == "awaiting-snapshot"
    crossed = replace(GOOD, is_snapshot=True, bid_prices=(102.0,))
    assert pipeline.process(crossed, AT).dropped == "crossed-book"
