"""The breaker on real markets: quiet on hour-long calm books, and stress injected into them caught.

The books are `../shared/data/long-books` (tardis CSV, see its README): a thin 2015 Bitstamp book, a
Hyperliquid perpetual and a holiday CME E-mini session, all calm.
"""

from __future__ import annotations

from functools import cache

import pytest

from streams.simulate.evaluate import (
    LONG_BOOKS,
    CalmOutcome,
    evaluate_calm,
    evaluate_on_background,
)
from streams.simulate.scenarios import SCENARIOS
from streams.sources.tardis import read_tardis

pytestmark = pytest.mark.unit

BOOKS = ("bitstamp", "hyperliquid", "cme")
STRESS = sorted(name for name, s in SCENARIOS.items() if s.expected)
ONSET_S = 1800.0  # half an hour in: every baseline has a full window of real history


@cache
def calm(book: str) -> CalmOutcome:
    path = LONG_BOOKS / f"{book}.csv.gz"
    return evaluate_calm(book, read_tardis(path))


@pytest.mark.parametrize("book", BOOKS)
def test_a_calm_real_book_gets_no_suggestion_in_an_hour(book: str) -> None:
    result = calm(book)

    assert result.instrument_hours > 0.95
    assert result.records > 1000
    assert [(s["action"], [r["rule"] for r in s["reasons"]]) for s in result.alarms] == []
    assert result.state_seconds["NORMAL"] == pytest.approx(3600 * result.instrument_hours)


@pytest.mark.parametrize("name", STRESS)
@pytest.mark.parametrize("book", BOOKS)
def test_stress_injected_into_a_real_book_is_caught_in_time(book: str, name: str) -> None:
    result = evaluate_on_background(
        name, LONG_BOOKS / f"{book}.csv.gz", ONSET_S, reaction_only=True
    )

    assert result.before_onset == []
    delay = result.detection_delay_s
    assert delay is not None, [(result.at(s), s["action"]) for s in result.suggestions]
    assert delay <= result.react_within_s
