"""Run a scenario through the real pipeline and measure the breaker's reaction in event time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.core.breaker import BreakerConfig
from streams.core.pipeline import Pipeline
from streams.core.types import SourcePosition
from streams.simulate.scenarios import run_scenario, scenario

__all__ = ["ScenarioOutcome", "evaluate_scenario"]

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
    deltas = run_scenario(name, seed)
    pipeline = Pipeline(breaker=breaker)
    suggestions: list[dict[str, Any]] = []
    records = 0
    topic = f"simulate:{name}:{seed}"
    for offset, delta in enumerate(deltas):
        output = pipeline.process(delta, SourcePosition(topic, 0, offset))
        records += output.imbalance is not None
        suggestions.extend(output.suggestions)
    return ScenarioOutcome(
        name=name,
        seed=seed,
        deltas=len(deltas),
        records=records,
        suggestions=suggestions,
        start_time=deltas[0].event_time if deltas else 0,
        onset_s=chosen.onset_s,
        expected=chosen.expected,
        react_within_s=chosen.react_within_s,
    )
