from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.book import Book, BookSide

pytestmark = pytest.mark.unit


def test_side_keeps_best_first_and_deletes_on_zero() -> None:
    bids = BookSide(-1.0)
    bids.apply([100.0, 101.0, 99.5], [1.0, 2.0, 3.0], 1000)
    assert bids.levels() == [(101.0, 2.0), (100.0, 1.0), (99.5, 3.0)]
    bids.apply([101.0, 100.0], [0.0, 4.0], 1000)
    assert bids.levels() == [(100.0, 4.0), (99.5, 3.0)]
    bids.apply([42.0], [0.0], 1000)  # deleting an unknown level is a no-op, not a phantom level
    assert len(bids) == 2


def test_asks_ascend_and_max_levels_drops_the_deepest() -> None:
    asks = BookSide(1.0)
    asks.apply([5.0, 3.0, 4.0, 6.0], [1.0, 1.0, 1.0, 1.0], 3)
    assert asks.prices(10) == [3.0, 4.0, 5.0]


def test_crossed_and_locked_books_are_detected() -> None:
    book = Book()
    book.reset()
    book.bids.apply([100.0], [1.0], 10)
    book.asks.apply([100.5], [1.0], 10)
    assert not book.is_crossed()
    book.asks.apply([100.0], [1.0], 10)
    assert book.is_crossed()  # locked counts as crossed


def test_snapshot_round_trip() -> None:
    book = Book()
    book.reset()
    book.bids.apply([1.5, 1.25], [3.0, 0.1], 10)
    book.asks.apply([1.75], [2.0], 10)
    book.last_sequence = 7
    again = Book.restore(book.snapshot())
    assert again.bids.levels() == book.bids.levels()
    assert again.asks.levels() == book.asks.levels()
    assert (again.valid, again.last_sequence) == (True, 7)


prices = st.sampled_from([round(1.0 + i * 0.25, 2) for i in range(40)])
changes = st.lists(st.tuples(prices, st.sampled_from([0.0, 0.5, 1.0, 2.5])), max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(changes, min_size=1, max_size=20))
def test_applying_a_random_delta_stream_equals_rebuilding_from_scratch(stream: list) -> None:
    """Incremental application == a dict of the final sizes, sorted best first."""
    side = BookSide(-1.0)
    truth: dict[float, float] = {}
    for packet in stream:
        side.apply([p for p, _ in packet], [q for _, q in packet], 1000)
        for price, size in packet:
            if size == 0.0:
                truth.pop(price, None)
            else:
                truth[price] = size
    assert side.levels() == sorted(truth.items(), reverse=True)
    assert side.keys == sorted(side.keys)
