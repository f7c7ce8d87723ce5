"""Circuit-breaker suggestions from imbalance records: six rules and a per-instrument state machine.

Pure and event-time only: the same records give the same suggestions, bit for bit, in a replay.
Each rule (listed in `streams/core/breaker_rules.py`) maps a record to a level (0 none, 1 watch,
2 throttle, 3 halt); the state machine escalates at once to the highest level and steps down only
after `calm_s` below it (hysteresis), so it does not flap. Rules, defaults and sources:
docs/breaker.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from streams.core.breaker_config import BreakerConfig
from streams.core.breaker_liquidity_rules import CostRule
from streams.core.breaker_price_rules import BandRule
from streams.core.breaker_rule import HALT, NORMAL, THROTTLE, WATCH, RuleState, micros
from streams.core.breaker_rules import make_rules
from streams.core.exceptions import BreakerInputError

__all__ = ["RULES", "STATES", "BreakerConfig", "BreakerEngine"]

STATES = ("NORMAL", "WATCH", "THROTTLE", "HALT", "COOLDOWN")
COOLDOWN = 4
RULES = tuple(rule.name for rule in make_rules(BreakerConfig()))
_METRIC_FIELDS = (
    "best_bid", "best_ask", "mid", "spread_bps", "queue_imbalance", "depth_imbalance_5",
    "depth_imbalance_10", "ofi", "ofi_1s", "ofi_10s", "depth_bid_10bps", "depth_ask_10bps",
    "depth_bid_25bps", "depth_ask_25bps", "depth_bid_50bps", "depth_ask_50bps",
    "depth_bid_100bps", "depth_ask_100bps", "spread_z", "depth_z",
)  # fmt: skip


class _Tier:
    """The rules and timers of one named tier of thresholds (`BreakerConfig.tiers`)."""

    __slots__ = ("band", "calm_us", "config", "cooldown_us", "halt_us", "name", "rules")

    def __init__(self, name: str, config: BreakerConfig) -> None:
        self.name = name
        self.config = config
        self.rules = make_rules(config)
        band = self.rules[RULES.index(BandRule.name)]
        assert isinstance(band, BandRule)
        self.band = band
        self.calm_us = micros(config.calm_s)
        self.halt_us = micros(config.halt_duration_s)
        self.cooldown_us = micros(config.cooldown_s)


class _Instrument:
    """Mutable per-instrument state: its tier, one state per rule, and the state machine."""

    __slots__ = (
        "calm_peak", "calm_since", "exchange", "kind", "levels", "rules", "state",
        "state_since", "symbol", "tier", "until",
    )  # fmt: skip

    def __init__(
        self, exchange: str, symbol: str, kind: str | None, tier: _Tier, rules: list[RuleState]
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.kind = kind
        self.tier = tier
        self.rules = rules
        self.levels = [NORMAL] * len(rules)
        self.state = NORMAL
        self.state_since = 0
        self.until = 0
        self.calm_since: int | None = None
        self.calm_peak = NORMAL


class BreakerEngine:
    """Turn imbalance records into circuit-breaker suggestion records (schema order)."""

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config = config or BreakerConfig()
        self.config_hash = config.config_hash()
        self._tiers: dict[str, _Tier] = {}
        self._band = RULES.index(BandRule.name)
        self._cost = RULES.index(CostRule.name)
        self._states: dict[str, _Instrument] = {}

    # ------------------------------------------------------------------ public API

    def on_imbalance(self, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Feed one imbalance record; return the suggestions it causes (usually none)."""
        try:
            exchange = record["exchange"]
            symbol = record["symbol"]
            instrument = f"{exchange}:{symbol}"
            st = self._states.get(instrument)
            if st is None:
                kind = record.get("instrument_kind")
                st = self._states[instrument] = self._new(instrument, exchange, symbol, kind)
            t = record["event_time"]
            mid = record["mid"]
            if not mid > 0.0 or mid == math.inf:
                raise BreakerInputError(f"{instrument}: mid {mid!r} at {t} is not a price > 0")
            levels = st.levels
            level = NORMAL
            for index, rule in enumerate(st.tier.rules):
                levels[index] = found = rule.evaluate(st.rules[index], record, t)
                if found > level:
                    level = found
        except KeyError as exc:
            raise BreakerInputError(f"imbalance record lacks field {exc}") from exc
        except TypeError as exc:
            raise BreakerInputError(
                f"imbalance record has a field of the wrong type: {exc}"
            ) from exc
        if level == st.state and st.state < HALT:
            st.calm_since = None
            return []
        return self._advance(st, record, t, level)

    def snapshot_state(self, instrument: str) -> dict[str, Any]:
        """Return the instrument's state as JSON-compatible values (empty dict if unknown)."""
        st = self._states.get(instrument)
        if st is None:
            return {}
        return {
            "config_hash": self.config_hash,
            "exchange": st.exchange,
            "symbol": st.symbol,
            "kind": st.kind,
            "tier": st.tier.name,
            "state": STATES[st.state],
            "state_since": st.state_since,
            "until": st.until,
            "calm_since": st.calm_since,
            "calm_peak": st.calm_peak,
            "levels": list(st.levels),
            "rules": {
                rule.name: state.to_state()
                for rule, state in zip(st.tier.rules, st.rules, strict=True)
            },
        }

    def restore_state(self, instrument: str, state: dict[str, Any]) -> None:
        """Load a `snapshot_state` result; the rules restart if the configuration has changed."""
        if not state:
            self._states.pop(instrument, None)
            return
        try:
            st = self._new(instrument, state["exchange"], state["symbol"], state.get("kind"))
            st.state = STATES.index(state["state"])
            st.state_since = int(state["state_since"])
            st.until = int(state["until"])
            calm_since = state["calm_since"]
            st.calm_since = None if calm_since is None else int(calm_since)
            st.calm_peak = int(state["calm_peak"])
            if state["config_hash"] == self.config_hash:
                st.levels = [int(level) for level in state["levels"]]
                saved = state["rules"]
                for rule, rule_state in zip(st.tier.rules, st.rules, strict=True):
                    rule.restore(rule_state, saved[rule.name])
        except (KeyError, ValueError, TypeError) as exc:
            raise BreakerInputError(
                f"{instrument}: breaker state cannot be restored: {exc}"
            ) from exc
        self._states[instrument] = st

    def forget(self, instrument: str) -> None:
        """Drop everything known about an instrument (delisted, or its partition was revoked)."""
        self._states.pop(instrument, None)

    def on_book_reset(self, instrument: str) -> None:
        """Clear the rules' short windows after the book was invalidated; keep the state machine
        and what is normal for the instrument (a feed gap does not change its market)."""
        st = self._states.get(instrument)
        if st is not None:
            for rule, state in zip(st.tier.rules, st.rules, strict=True):
                rule.clear(state)

    def state_of(self, instrument: str) -> str:
        """Return the current breaker state of an instrument (NORMAL when unknown)."""
        st = self._states.get(instrument)
        return STATES[st.state] if st is not None else "NORMAL"

    def tier_of(self, instrument: str) -> str:
        """Return the name of the tier whose thresholds apply to a known instrument."""
        st = self._states.get(instrument)
        return st.tier.name if st is not None else self.config.for_instrument(instrument)[0]

    def _new(self, instrument: str, exchange: str, symbol: str, kind: str | None) -> _Instrument:
        name, config = self.config.for_instrument(instrument, kind)
        tier = self._tiers.get(name)
        if tier is None:
            tier = self._tiers[name] = _Tier(name, config)
        states = [rule.new_state(instrument) for rule in tier.rules]
        return _Instrument(exchange, symbol, kind, tier, states)

    # ------------------------------------------------------------------ state machine

    def _advance(
        self, st: _Instrument, record: Mapping[str, Any], t: int, level: int
    ) -> list[dict[str, Any]]:
        state = st.state
        if state == HALT:
            if t < st.until:
                return []
            st.tier.band.reopen(st.rules[self._band])
            return [self._enter(st, record, t, COOLDOWN, "RESUME", 0)]
        if state == COOLDOWN:
            if level >= THROTTLE:
                return [self._escalate(st, record, t, level)]
            if t < st.until:
                return []
            if level == WATCH:
                return [self._enter(st, record, t, WATCH, "WATCH", 0)]
            return [self._enter(st, record, t, NORMAL, "RESUME", 0)]
        if level > state:
            return [self._escalate(st, record, t, level)]
        return self._calm_down(st, record, t, level)

    def _calm_down(
        self, st: _Instrument, record: Mapping[str, Any], t: int, level: int
    ) -> list[dict[str, Any]]:
        """Step down to the highest level seen once `calm_s` has passed below the state."""
        if st.calm_since is None:
            st.calm_since = t
            st.calm_peak = level
            return []
        if level > st.calm_peak:
            st.calm_peak = level
        if t - st.calm_since < st.tier.calm_us:
            return []
        target = st.calm_peak
        return [self._enter(st, record, t, target, "WATCH" if target else "RESUME", 0)]

    def _escalate(
        self, st: _Instrument, record: Mapping[str, Any], t: int, level: int
    ) -> dict[str, Any]:
        if level == HALT:
            st.until = t + st.tier.halt_us
            return self._enter(st, record, t, HALT, "HALT", 0)
        if level == THROTTLE:
            flow = any(
                level >= THROTTLE and rule.flow
                for rule, level in zip(st.tier.rules, st.levels, strict=True)
            )
            return self._enter(st, record, t, THROTTLE, "THROTTLE" if flow else "WIDEN_BANDS", 0)
        return self._enter(st, record, t, WATCH, "WATCH", 0)

    def _enter(
        self, st: _Instrument, record: Mapping[str, Any], t: int, state: int, action: str, n: int
    ) -> dict[str, Any]:
        previous = st.state
        st.state = state
        st.state_since = t
        st.calm_since = None
        st.calm_peak = 0
        duration: float | None = None
        if state == HALT:
            duration = st.tier.config.halt_duration_s
        elif state == COOLDOWN:
            st.until = t + st.tier.cooldown_us
            duration = st.tier.config.cooldown_s
        resume = action == "RESUME"
        return {
            "suggestion_id": f"{record['record_id']}#{n}",
            "exchange": st.exchange,
            "symbol": st.symbol,
            "event_time": t,
            "action": action,
            "state": STATES[state],
            "previous_state": STATES[previous],
            "severity": (0, 1, 2, 3, 1)[state] if not resume else 0,
            "suggested_duration_s": duration,
            "reasons": [] if resume else self._reasons(st, record, t),
            "metrics": self._metrics(st, record),
            "source_topic": record["source_topic"],
            "source_partition": record["source_partition"],
            "source_offset": record["source_offset"],
            "config_hash": record["config_hash"],
        }

    # ------------------------------------------------------------------ evidence

    def _reasons(self, st: _Instrument, record: Mapping[str, Any], t: int) -> list[dict[str, Any]]:
        """The evidence of every rule at level >= 1, in the fixed rule order."""
        tier = f" (tier {st.tier.name})"
        reasons = []
        for rule, state, level in zip(st.tier.rules, st.rules, st.levels, strict=True):
            if level:
                reason = rule.reason(state, record, t)
                reason["detail"] += tier
                reasons.append(reason)
        return reasons

    def _metrics(self, st: _Instrument, record: Mapping[str, Any]) -> dict[str, float | None]:
        metrics: dict[str, float | None] = {}
        for name in _METRIC_FIELDS:
            value = record.get(name)
            metrics[name] = None if value is None else float(value)
        costs = record.get("cost_to_trade") or []
        index = st.rules[self._cost].index
        if 0 <= index < len(costs):
            entry = costs[index]
            metrics["cost_notional"] = float(entry["notional"])
            metrics["cost_buy_bps"] = entry["buy_bps"]
            metrics["cost_sell_bps"] = entry["sell_bps"]
        for rule, state in zip(st.tier.rules, st.rules, strict=True):
            rule.metrics(state, metrics)
        history = [b.history_s() for state in st.rules for b in state.baselines]
        metrics["baseline_history_s"] = min(history) if history else 0.0
        return metrics
