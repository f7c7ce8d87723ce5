"""Run a scenario through the real pipeline and measure the breaker's reaction in event time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.core.breaker import BreakerConfig
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition
from streams.simulate.backgrounds import inject_stress
from streams.simulate.scenarios import run_scenario, scenario
from streams.sources.tardis import read_tardis

__all__ = ["ScenarioOutcome", "evaluate_on_background", "evaluate_scenario"]

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
    name: str, book: str | Path, onset_s: float, breaker: BreakerConfig | None = None
) -> ScenarioOutcome:
    """Inject a scenario's stress into a real tardis book `onset_s` after its first update."""
    deltas = [delta for delta, _ in read_tardis(book)]
    if not deltas:
        raise ValueError(f"{book}: no book updates")
    onset_us = deltas[0].event_time + round(onset_s * _MICROS)
    stressed = list(inject_stress(deltas, scenario(name), onset_us))
    return _evaluate(name, 0, stressed, onset_s, f"background:{Path(book).name}:{name}", breaker)


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
