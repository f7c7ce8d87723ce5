"""Measure the breaker in event time, through the real pipeline: reactions to stress (simulated,
or injected into real books) and quiet on calm real markets."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.config import shared_long_books
from streams.core.breaker import STATES, BreakerConfig
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition
from streams.simulate.backgrounds import inject_stress
from streams.simulate.scenarios import run_scenario, scenario
from streams.sources.tardis import read_tardis

__all__ = [
    "LONG_BOOKS",
    "CalmOutcome",
    "ScenarioOutcome",
    "evaluate_calm",
    "evaluate_on_background",
    "evaluate_scenario",
]

LONG_BOOKS = shared_long_books()

_MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """What the breaker suggested on one scenario, with times in seconds from the start."""

    name: str
    seed: int
    deltas: int
    records: int
    suggestions: list[dict[str, Any]] = field(repr=False)
    start_time: int
    onset_s: float
    expected: tuple[str, ...]
    react_within_s: float

    def at(self, suggestion: dict[str, Any]) -> float:
        event_time: int = suggestion["event_time"]
        return (event_time - self.start_time) / _MICROS

    @property
    def before_onset(self) -> list[dict[str, Any]]:
        """Suggestions during the calm lead-in: false alarms."""
        return [s for s in self.suggestions if self.at(s) < self.onset_s]

    @property
    def reaction(self) -> dict[str, Any] | None:
        """The first expected suggestion at or after the onset, if any."""
        for suggestion in self.suggestions:
            if self.at(suggestion) >= self.onset_s and suggestion["action"] in self.expected:
                return suggestion
        return None

    @property
    def detection_delay_s(self) -> float | None:
        reaction = self.reaction
        return None if reaction is None else self.at(reaction) - self.onset_s

    @property
    def passed(self) -> bool:
        if not self.expected:
            return not self.suggestions
        delay = self.detection_delay_s
        return not self.before_onset and delay is not None and delay <= self.react_within_s


def evaluate_scenario(
    name: str, seed: int = 0, breaker: BreakerConfig | None = None
) -> ScenarioOutcome:
    """Feed the scenario's deltas to `Pipeline`, as `streams compute` would; collect the output."""
    chosen = scenario(name)
    return _evaluate(
        name, seed, run_scenario(name, seed), chosen.onset_s, f"simulate:{name}:{seed}", breaker
    )


def evaluate_on_background(
    name: str,
    book: str | Path,
    onset_s: float,
    breaker: BreakerConfig | None = None,
    *,
    reaction_only: bool = False,
) -> ScenarioOutcome:
    """Inject a scenario's stress into a real tardis book `onset_s` after its first update.

    `reaction_only` stops once the reaction budget has passed (what a detection check needs).
    """
    chosen = scenario(name)
    deltas = (delta for delta, _ in read_tardis(book))
    first = next(deltas, None)
    if first is None:
        raise ValueError(f"{book}: no book updates")
    onset_us = first.event_time + round(onset_s * _MICROS)
    stressed = inject_stress(itertools.chain([first], deltas), chosen, onset_us)
    if reaction_only:
        end_us = onset_us + round((chosen.react_within_s + 1.0) * _MICROS)
        stressed = itertools.takewhile(lambda delta: delta.event_time <= end_us, stressed)
    return _evaluate(name, 0, stressed, onset_s, f"background:{Path(book).name}:{name}", breaker)


@dataclass(frozen=True, slots=True)
class CalmOutcome:
    """What the breaker said about a calm market: suggestions and states per instrument-hour."""

    source: str
    instruments: int
    records: int
    instrument_hours: float
    #: every suggestion except RESUME, the ones that ask somebody to act
    alarms: list[dict[str, Any]] = field(repr=False)
    #: seconds spent in each breaker state, summed over the instruments
    state_seconds: dict[str, float]
    #: every state change (RESUME included)
    state_changes: int

    def per_hour(self, count: float) -> float:
        return count / self.instrument_hours if self.instrument_hours else 0.0

    @property
    def by_action(self) -> Counter[str]:
        return Counter(s["action"] for s in self.alarms)

    @property
    def by_rule(self) -> Counter[str]:
        return Counter(reason["rule"] for s in self.alarms for reason in s["reasons"])


def evaluate_calm(
    source: str,
    items: Iterable[tuple[BookDelta, SourcePosition]],
    breaker: BreakerConfig | None = None,
) -> CalmOutcome:
    """Run a real, calm market through `Pipeline` and account for every suggestion and state."""
    pipeline = Pipeline(breaker=breaker)
    spans: dict[str, list[int]] = {}
    states: dict[str, tuple[str, int]] = {}
    seconds: dict[str, float] = dict.fromkeys(STATES, 0.0)
    alarms: list[dict[str, Any]] = []
    changes = 0
    records = 0
    for delta, position in items:
        output = pipeline.process(delta, position)
        record = output.imbalance
        if record is None:
            continue
        records += 1
        t = record["event_time"]
        span = spans.setdefault(delta.instrument, [t, t])
        span[1] = max(span[1], t)
        state, since = states.setdefault(delta.instrument, ("NORMAL", t))
        for suggestion in output.suggestions:
            changes += 1
            seconds[state] += (t - since) / _MICROS
            state, since = suggestion["state"], t
            if suggestion["action"] != "RESUME":
                alarms.append(suggestion)
        states[delta.instrument] = (state, since)
    for instrument, (state, since) in states.items():
        seconds[state] += (spans[instrument][1] - since) / _MICROS
    return CalmOutcome(
        source=source,
        instruments=len(spans),
        records=records,
        instrument_hours=sum(last - first for first, last in spans.values()) / 3.6e9,
        alarms=alarms,
        state_seconds=seconds,
        state_changes=changes,
    )


def _evaluate(
    name: str,
    seed: int,
    deltas: Iterable[BookDelta],
    onset_s: float,
    topic: str,
    breaker: BreakerConfig | None,
) -> ScenarioOutcome:
    chosen = scenario(name)
    pipeline = Pipeline(breaker=breaker)
    suggestions: list[dict[str, Any]] = []
    records = 0
    count = 0
    start_time: int | None = None
    for offset, delta in enumerate(deltas):
        if start_time is None:
            start_time = delta.event_time
        count += 1
        output = pipeline.process(delta, SourcePosition(topic, 0, offset))
        records += output.imbalance is not None
        suggestions.extend(output.suggestions)
    return ScenarioOutcome(
        name=name,
        seed=seed,
        deltas=count,
        records=records,
        suggestions=suggestions,
        start_time=start_time or 0,
        onset_s=onset_s,
        expected=chosen.expected,
        react_within_s=chosen.react_within_s,
    )
