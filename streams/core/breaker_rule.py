"""What a breaker rule is: the levels, the `Rule` base class and the `RuleState` it keeps.

A rule is a small object bound to the configuration; what it remembers about one instrument lives
in its `RuleState`, kept by the engine per instrument. A rule's level counts once its condition
has held for the rule's confirmation time (event time). The rules themselves:
`breaker_liquidity_rules.py` and `breaker_price_rules.py`; the list of them: `breaker_rules.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from streams.core.breaker_config import BreakerConfig
from streams.core.breaker_windows import Baseline

__all__ = ["HALT", "NORMAL", "THROTTLE", "WATCH", "Rule", "RuleState", "micros", "reason_of"]

NORMAL, WATCH, THROTTLE, HALT = range(4)
_MICROS = 1_000_000


def micros(seconds: float) -> int:
    return round(seconds * _MICROS)


def reason_of(rule: str, value: float, threshold: float, detail: str) -> dict[str, Any]:
    """One entry of a suggestion's reasons."""
    return {"rule": rule, "value": float(value), "threshold": float(threshold), "detail": detail}


class RuleState:
    """What one rule remembers about one instrument."""

    __slots__ = ("baselines", "index", "level", "onset", "threshold", "value")

    def __init__(self, baselines: list[Baseline]) -> None:
        self.level = NORMAL
        self.onset: int | None = None
        self.value: float | None = 0.0
        self.threshold = 0.0
        self.baselines = baselines
        # which of the rule's baselines it judged by (a depth band, a notional); -1: none
        self.index = -1

    def mark_stressed(self) -> None:
        for baseline in self.baselines:
            baseline.mark_stressed()

    def to_state(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "onset": self.onset,
            "value": self.value,
            "threshold": self.threshold,
            "index": self.index,
            "baselines": [baseline.to_state() for baseline in self.baselines],
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.level = int(state["level"])
        onset = state["onset"]
        self.onset = None if onset is None else int(onset)
        value = state["value"]
        self.value = None if value is None else float(value)
        self.threshold = float(state["threshold"])
        self.index = int(state["index"])
        saved = state["baselines"]
        if len(saved) != len(self.baselines):
            raise ValueError(f"{len(saved)} baselines saved, {len(self.baselines)} expected")
        for baseline, document in zip(self.baselines, saved, strict=True):
            baseline.load_state(document)


class Rule:
    """One rule: `evaluate` a record into a level, then `reason` and `metrics` explain it."""

    name: ClassVar[str] = ""
    #: a THROTTLE of this rule slows the order flow; liquidity rules suggest WIDEN_BANDS instead
    flow: ClassVar[bool] = False

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config

    def new_state(self, instrument: str) -> RuleState:
        return RuleState([])

    def _baseline(self, lowest: bool) -> Baseline:
        cfg = self.config
        return Baseline(
            cfg.baseline_bucket_s,
            cfg.baseline_window_s,
            cfg.baseline_tail,
            lowest,
            cfg.baseline_min_history_s,
        )

    def restore(self, s: RuleState, state: Mapping[str, Any]) -> None:
        """Load what `s.to_state()` saved."""
        s.load_state(state)

    def evaluate(self, s: RuleState, record: Mapping[str, Any], t: int) -> int:
        raise NotImplementedError

    def reason(self, s: RuleState, record: Mapping[str, Any], t: int) -> dict[str, Any]:
        raise NotImplementedError

    def metrics(self, s: RuleState, out: dict[str, float | None]) -> None:
        """Add the rule's evidence numbers to a suggestion's `metrics`."""

    def clear(self, s: RuleState) -> None:
        """Forget short-term windows after a book reset; what is normal stays known."""
        s.onset = None
        s.level = NORMAL

    def _confirm(self, s: RuleState, t: int, raw: int, confirm_us: int) -> int:
        """Return `raw` once a condition has held `confirm_us`; hold a level while it lasts."""
        if raw == NORMAL:
            s.onset = None
            s.level = NORMAL
            return NORMAL
        if s.onset is None:
            s.onset = t
        if t - s.onset >= confirm_us:
            s.level = raw
        return s.level

    @staticmethod
    def _held(s: RuleState, t: int) -> float:
        return 0.0 if s.onset is None else (t - s.onset) / _MICROS
