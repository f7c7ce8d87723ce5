"""Stress scenarios: what happens to the market, when, and how a sound breaker should react.

Every scenario starts with `onset_s` seconds of calm market (long enough for every EWMA, the
5-minute band reference and the z-scores to warm up), then bends the market. `expected` lists the
actions that count as the right reaction and `react_within_s` the event-time budget after the
onset; a scenario with no expected action must produce no suggestion at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams.core.types import BookDelta
from streams.simulate.exceptions import UnknownScenarioError
from streams.simulate.market import CALM, MarketParams, MarketSimulator, Regime

__all__ = ["SCENARIOS", "Scenario", "run_scenario", "scenario"]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    onset_s: float
    regime: Callable[[float], Regime]
    expected: tuple[str, ...]
    react_within_s: float
    reaction: str


def _calm(t: float) -> Regime:
    return CALM


def _flash_crash(t: float) -> Regime:
    # bids pulled within 5 s, then cascading sells take 15 % in 20 s; the price then stays low
    since = t - 240.0
    if since < 0:
        return CALM
    bids = max(0.05, 1.0 - since / 5.0) if since < 60 else 0.5
    drift = -80.0 if since < 20 else 0.0
    return Regime(drift_bps_per_s=drift, bid_depth=bids)


def _liquidity_withdrawal(t: float) -> Regime:
    # market makers pull the asks over 10 s and stay away for 3 minutes; the price barely moves
    since = t - 240.0
    if since < 0 or since > 180:
        return CALM
    return Regime(ask_depth=max(0.1, 1.0 - since / 10.0))


def _spread_blowout(t: float) -> Regime:
    # the inside of the book empties on both sides: 1-2 tick spread becomes 80 ticks for 90 s
    since = t - 240.0
    if since < 0 or since > 90:
        return CALM
    return Regime(extra_spread_ticks=min(80, int(8 * since) + 1))


def _layering(t: float) -> Regime:
    # a spoofer stacks 8 bid levels behind the best (12x normal size) for 150 s, nudging the
    # price up, then cancels everything at once
    since = t - 240.0
    if since < 0 or since > 150:
        return CALM
    return Regime(drift_bps_per_s=0.5, bid_layers=8, layer_size=12.0)


def _slow_drift(t: float) -> Regime:
    # a steady 8 % rise over 16 minutes: always inside the bands, never fast
    return Regime(drift_bps_per_s=0.8) if t >= 240.0 else CALM


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("calm", "a liquid, quiet market", 1200.0, 240.0, _calm, (), 0.0,
                 "no suggestion at all"),
        Scenario("flash_crash", "bids withdrawn, then cascading sells: -15 % in 20 s", 900.0,
                 240.0, _flash_crash, ("HALT",), 60.0,
                 "THROTTLE on velocity at once, HALT once the mid has stayed 15 s beyond the "
                 "price band"),
        Scenario("liquidity_withdrawal", "asks withdrawn to 10 % of their depth for 3 min", 600.0,
                 240.0, _liquidity_withdrawal, ("THROTTLE", "WIDEN_BANDS"), 15.0,
                 "WIDEN_BANDS within seconds (depth depletion, cost to trade)"),
        Scenario("spread_blowout", "spread widens from 1-2 ticks to 80 ticks for 90 s", 600.0,
                 240.0, _spread_blowout, ("THROTTLE", "WIDEN_BANDS"), 15.0,
                 "WIDEN_BANDS within seconds (abnormal spread, depth depletion)"),
        Scenario("layering", "spoofing-like bid layering for 150 s, then cancelled at once",
                 600.0, 240.0, _layering, ("WATCH", "THROTTLE", "WIDEN_BANDS"), 180.0,
                 "WATCH: persistent one-sided depth, or depth vanishing at the cancellation"),
        Scenario("slow_drift", "steady 8 % rise over 16 minutes, inside the bands", 1200.0,
                 240.0, _slow_drift, (), 0.0, "no suggestion: the band reference follows"),
    )
}  # fmt: skip


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise UnknownScenarioError(f"unknown scenario {name!r}; known: {known}") from None


def run_scenario(name: str, seed: int = 0, params: MarketParams | None = None) -> list[BookDelta]:
    """Return the book deltas of a scenario; the same name and seed give the same deltas."""
    chosen = scenario(name)
    simulator = MarketSimulator(params or MarketParams(), seed)
    return list(simulator.run(chosen.duration_s, chosen.regime))
