"""The price rules: a Limit Up-Limit Down style band and CME-style velocity logic.

Unlike the liquidity rules they keep fixed, regulator-style limits rather than a per-instrument
normal. Sources and rationale: docs/breaker.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from streams.core.breaker_config import BreakerConfig
from streams.core.breaker_rule import (
    HALT,
    NORMAL,
    THROTTLE,
    WATCH,
    Rule,
    RuleState,
    micros,
    reason_of,
)
from streams.core.breaker_windows import MeanPriceWindow, RangeWindow

__all__ = ["BandRule", "VelocityRule"]


class BandRule(Rule):
    """Limit Up-Limit Down style price band around the mean mid of the last five minutes.

    SEC Release 34-67091 (2012): a limit state when the price leaves the band, a pause when it is
    not cleared within 15 s. A breach smaller than `noise_spreads` spreads is quote noise.
    """

    name: ClassVar[str] = "price_band"
    flow: ClassVar[bool] = True

    def __init__(self, config: BreakerConfig) -> None:
        super().__init__(config)
        self.halt_us = micros(config.band_halt_after_s)

    def new_state(self, instrument: str) -> RuleState:
        return _BandState(self.config, instrument)

    def evaluate(self, s: RuleState, record: Mapping[str, Any], t: int) -> int:
        assert isinstance(s, _BandState)
        mid = record["mid"]
        s.prices.add(t, mid, self.config.band_min_history_s)
        reference = s.prices.reference
        if reference is None:
            s.value = 0.0
            s.onset = None
            return NORMAL
        deviation = mid / reference - 1.0
        s.value = deviation
        size = abs(deviation)
        if size < s.fraction or 1e4 * size < self.config.noise_spreads * record["spread_bps"]:
            s.onset = None
            return NORMAL
        if s.onset is None:
            s.onset = t
        return HALT if t - s.onset >= self.halt_us else THROTTLE

    def reopen(self, s: RuleState) -> None:
        """LULD reopens with a fresh reference price: the pre-halt window is discarded."""
        assert isinstance(s, _BandState)
        s.prices.clear()
        s.onset = None

    def clear(self, s: RuleState) -> None:
        super().clear(s)
        self.reopen(s)

    def reason(self, s: RuleState, record: Mapping[str, Any], t: int) -> dict[str, Any]:
        assert isinstance(s, _BandState)
        deviation = 100.0 * (s.value or 0.0)
        band = 100.0 * s.fraction
        held = s.onset is not None and t - s.onset >= self.halt_us
        state = "pause suggested" if held else "limit state"
        return reason_of(
            self.name, deviation, band,
            f"{state}: mid {record['mid']:.8g} is {deviation:+.2f} % from the 5-minute mean "
            f"{s.prices.reference or 0.0:.8g} (band {band:g} %) for {self._held(s, t):.1f} s",
        )  # fmt: skip

    def metrics(self, s: RuleState, out: dict[str, float | None]) -> None:
        assert isinstance(s, _BandState)
        reference = s.prices.reference
        out["reference_price"] = reference
        if reference is not None:
            out["band_lower"] = reference * (1.0 - s.fraction)
            out["band_upper"] = reference * (1.0 + s.fraction)


class _BandState(RuleState):
    __slots__ = ("fraction", "prices")

    def __init__(self, config: BreakerConfig, instrument: str) -> None:
        super().__init__([])
        self.fraction = config.band_fraction(instrument)
        self.prices = MeanPriceWindow(config.band_reference_window_s)

    def to_state(self) -> dict[str, Any]:
        return {**super().to_state(), "prices": self.prices.to_state()}

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        self.prices.load_state(state["prices"])


class VelocityRule(Rule):
    """CME Globex velocity logic: the mid moved too far within a short look-back.

    The look-back and the points are our defaults for liquid crypto, not CME's per-product values;
    a move no larger than `noise_spreads` spreads is quote noise (illiquid options, thin books).
    """

    name: ClassVar[str] = "velocity"
    flow: ClassVar[bool] = True

    def new_state(self, instrument: str) -> RuleState:
        return _VelocityState(self.config)

    def evaluate(self, s: RuleState, record: Mapping[str, Any], t: int) -> int:
        assert isinstance(s, _VelocityState)
        cfg = self.config
        move = s.ranges.add(t, record["mid"])
        s.value = move
        if move < cfg.velocity_watch_bps or move < cfg.noise_spreads * record["spread_bps"]:
            return NORMAL
        return THROTTLE if move >= cfg.velocity_throttle_bps else WATCH

    def clear(self, s: RuleState) -> None:
        assert isinstance(s, _VelocityState)
        super().clear(s)
        s.ranges.clear()

    def reason(self, s: RuleState, record: Mapping[str, Any], t: int) -> dict[str, Any]:
        cfg = self.config
        move = s.value or 0.0
        threshold = cfg.velocity_throttle_bps if move >= cfg.velocity_throttle_bps else (
            cfg.velocity_watch_bps
        )  # fmt: skip
        return reason_of(
            self.name, move, threshold,
            f"mid moved {move:.1f} bps within {cfg.velocity_window_s:g} s",
        )  # fmt: skip

    def metrics(self, s: RuleState, out: dict[str, float | None]) -> None:
        out["velocity_bps"] = s.value


class _VelocityState(RuleState):
    __slots__ = ("ranges",)

    def __init__(self, config: BreakerConfig) -> None:
        super().__init__([])
        self.ranges = RangeWindow(config.velocity_window_s)

    def to_state(self) -> dict[str, Any]:
        return {**super().to_state(), "ranges": self.ranges.to_state()}

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        self.ranges.load_state(state["ranges"])
