"""Circuit-breaker suggestions from imbalance records: six rules and a per-instrument state machine.

Pure and event-time only: the same records give the same suggestions, bit for bit, in a replay.
Each rule maps a record to a level (0 none, 1 watch, 2 throttle, 3 halt) once its condition has
held for its confirmation time; the state machine escalates at once to the highest level and steps
down only after `calm_s` below it (hysteresis), so it does not flap. Rules, defaults and sources:
docs/breaker.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from streams.core.breaker_config import BreakerConfig
from streams.core.breaker_evidence import reasons
from streams.core.breaker_windows import MeanPriceWindow, RangeWindow
from streams.core.exceptions import BreakerInputError

__all__ = ["RULES", "STATES", "BreakerConfig", "BreakerEngine"]

STATES = ("NORMAL", "WATCH", "THROTTLE", "HALT", "COOLDOWN")
NORMAL, WATCH, THROTTLE, HALT, COOLDOWN = range(5)
RULES = (
    "persistent_imbalance",
    "abnormal_spread",
    "depth_depletion",
    "cost_to_trade",
    "price_band",
    "velocity",
)
IMBALANCE, SPREAD, DEPTH, COST, BAND, VELOCITY = range(6)
# rules whose THROTTLE means "slow the order flow"; the liquidity rules suggest WIDEN_BANDS
_FLOW_RULES = (IMBALANCE, BAND, VELOCITY)
_MICROS = 1_000_000
_METRIC_FIELDS = (
    "best_bid", "best_ask", "mid", "spread_bps", "queue_imbalance", "depth_imbalance_5",
    "depth_imbalance_10", "ofi", "ofi_1s", "ofi_10s", "depth_bid_10bps", "depth_ask_10bps",
    "depth_bid_25bps", "depth_ask_25bps", "depth_bid_50bps", "depth_ask_50bps",
    "depth_bid_100bps", "depth_ask_100bps", "spread_z", "depth_z",
)  # fmt: skip


def _micros(seconds: float) -> int:
    return round(seconds * _MICROS)


class _Instrument:
    """Mutable per-instrument state: rolling windows, rule onsets and the state machine."""

    __slots__ = (
        "band_fraction", "baseline_last", "baseline_start", "calm_peak", "calm_since",
        "cost_avg", "cost_fillable", "cost_index", "depth_ask_avg", "depth_bid_avg", "exchange",
        "levels", "onsets", "prices", "ranges", "state", "state_since", "symbol", "until",
        "values",
    )  # fmt: skip

    def __init__(self, exchange: str, symbol: str, config: BreakerConfig) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.band_fraction = config.band_fraction(f"{exchange}:{symbol}")
        self.prices = MeanPriceWindow(config.band_reference_window_s)
        self.ranges = RangeWindow(config.velocity_window_s)
        self.cost_fillable = False
        self.cost_index = -1
        self.levels = [0] * len(RULES)
        # measured value per rule (None: not measurable, e.g. book cannot fill the notional)
        self.values: list[float | None] = [0.0] * len(RULES)
        self.state = NORMAL
        self.state_since = 0
        self.until = 0
        self.calm_since: int | None = None
        self.calm_peak = 0
        self.clear_windows()

    def clear_windows(self) -> None:
        self.prices.clear()
        self.ranges.clear()
        # baselines (EWMAs of depth and cost) and their warm-up; -1.0 means "not started"
        self.baseline_start: int | None = None
        self.baseline_last = 0
        self.depth_bid_avg = -1.0
        self.depth_ask_avg = -1.0
        self.cost_avg = -1.0
        self.onsets: list[int | None] = [None] * len(RULES)


class BreakerEngine:
    """Turn imbalance records into circuit-breaker suggestion records (schema order)."""

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config = config or BreakerConfig()
        self.config_hash = config.config_hash()
        self._states: dict[str, _Instrument] = {}
        self._confirm_us = (
            _micros(config.imbalance_watch_after_s),
            _micros(config.spread_confirm_s),
            _micros(config.depth_confirm_s),
            _micros(config.cost_confirm_s),
            0,
            0,
        )
        self._imbalance_throttle_us = _micros(config.imbalance_throttle_after_s)
        self._band_halt_us = _micros(config.band_halt_after_s)
        self._warmup_us = _micros(config.baseline_warmup_s)
        self._decay_per_us = math.log(2.0) / (config.baseline_halflife_s * _MICROS)
        self._depth_keys = (
            f"depth_bid_{config.depth_band_bps}bps",
            f"depth_ask_{config.depth_band_bps}bps",
        )
        self._calm_us = _micros(config.calm_s)
        self._halt_us = _micros(config.halt_duration_s)
        self._cooldown_us = _micros(config.cooldown_s)

    # ------------------------------------------------------------------ public API

    def on_imbalance(self, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Feed one imbalance record; return the suggestions it causes (usually none)."""
        try:
            exchange = record["exchange"]
            symbol = record["symbol"]
            instrument = f"{exchange}:{symbol}"
            st = self._states.get(instrument)
            if st is None:
                st = self._states[instrument] = _Instrument(exchange, symbol, self.config)
            t = record["event_time"]
            mid = record["mid"]
            if not mid > 0.0 or mid == math.inf:
                raise BreakerInputError(f"{instrument}: mid {mid!r} at {t} is not a price > 0")
            level = self._rules(st, record, t, mid)
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
            "state": STATES[st.state],
            "state_since": st.state_since,
            "until": st.until,
            "calm_since": st.calm_since,
            "calm_peak": st.calm_peak,
            "levels": list(st.levels),
            "values": list(st.values),
            "onsets": list(st.onsets),
            "cost_fillable": st.cost_fillable,
            "cost_index": st.cost_index,
            "baseline_start": st.baseline_start,
            "baseline_last": st.baseline_last,
            "depth_bid_avg": st.depth_bid_avg,
            "depth_ask_avg": st.depth_ask_avg,
            "cost_avg": st.cost_avg,
            "prices": st.prices.to_state(),
            "ranges": st.ranges.to_state(),
        }

    def restore_state(self, instrument: str, state: dict[str, Any]) -> None:
        """Load a `snapshot_state` result; windows restart if the configuration has changed."""
        if not state:
            self._states.pop(instrument, None)
            return
        try:
            st = _Instrument(state["exchange"], state["symbol"], self.config)
            st.state = STATES.index(state["state"])
            st.state_since = int(state["state_since"])
            st.until = int(state["until"])
            st.calm_since = state["calm_since"]
            st.calm_peak = int(state["calm_peak"])
            st.cost_fillable = bool(state["cost_fillable"])
            if state["config_hash"] == self.config_hash:
                st.levels = [int(level) for level in state["levels"]]
                st.values = [None if v is None else float(v) for v in state["values"]]
                st.onsets = [None if o is None else int(o) for o in state["onsets"]]
                st.cost_index = int(state["cost_index"])
                st.baseline_start = state["baseline_start"]
                st.baseline_last = int(state["baseline_last"])
                st.depth_bid_avg = float(state["depth_bid_avg"])
                st.depth_ask_avg = float(state["depth_ask_avg"])
                st.cost_avg = float(state["cost_avg"])
                st.prices.load_state(state["prices"])
                st.ranges.load_state(state["ranges"])
        except (KeyError, ValueError, TypeError) as exc:
            raise BreakerInputError(
                f"{instrument}: breaker state cannot be restored: {exc}"
            ) from exc
        self._states[instrument] = st

    def forget(self, instrument: str) -> None:
        """Drop everything known about an instrument (delisted, or its partition was revoked)."""
        self._states.pop(instrument, None)

    def on_book_reset(self, instrument: str) -> None:
        """Clear the rolling windows after the book was invalidated; keep the state machine."""
        st = self._states.get(instrument)
        if st is not None:
            st.clear_windows()

    def state_of(self, instrument: str) -> str:
        """Return the current breaker state of an instrument (NORMAL when unknown)."""
        st = self._states.get(instrument)
        return STATES[st.state] if st is not None else "NORMAL"

    # ------------------------------------------------------------------ rules

    def _rules(self, st: _Instrument, record: Mapping[str, Any], t: int, mid: float) -> int:
        levels = st.levels
        levels[IMBALANCE] = self._imbalance(st, record, t)
        if st.baseline_start is None:
            st.baseline_start = st.baseline_last = t
        warm = t - st.baseline_start >= self._warmup_us
        dt = t - st.baseline_last
        weight = 0.0
        if dt > 0:
            weight = 1.0 - math.exp(-dt * self._decay_per_us)
            st.baseline_last = t
        levels[SPREAD] = self._spread(st, record, t, warm)
        levels[DEPTH] = self._depth(st, record, t, warm, weight)
        levels[COST] = self._cost(st, record, t, warm, weight)
        levels[BAND] = self._band(st, t, mid, record["spread_bps"])
        move = st.ranges.add(t, mid)
        st.values[VELOCITY] = move
        cfg = self.config
        levels[VELOCITY] = (
            NORMAL if move < cfg.velocity_watch_bps
            # a move no larger than the spread is quote noise (illiquid options, thin books)
            or move < cfg.noise_spreads * record["spread_bps"]
            else THROTTLE if move >= cfg.velocity_throttle_bps
            else WATCH
        )  # fmt: skip
        return max(levels)

    def _confirmed(self, st: _Instrument, rule: int, t: int, raw: int) -> int:
        """Return `raw` once a firing condition has held for the rule's confirmation time."""
        onsets = st.onsets
        if raw == 0:
            onsets[rule] = None
            return 0
        onset = onsets[rule]
        if onset is None:
            onsets[rule] = onset = t
        return raw if t - onset >= self._confirm_us[rule] else 0

    def _imbalance(self, st: _Instrument, record: Mapping[str, Any], t: int) -> int:
        cfg = self.config
        imbalance = record["depth_imbalance_10"]
        st.values[IMBALANCE] = imbalance
        size = abs(imbalance)
        confirmed = not cfg.imbalance_requires_ofi or record["ofi_10s"] * imbalance > 0.0
        if size < cfg.imbalance_threshold or not confirmed:
            st.onsets[IMBALANCE] = None
            return 0
        level = self._confirmed(st, IMBALANCE, t, WATCH)
        onset = st.onsets[IMBALANCE]
        if (
            level
            and size >= cfg.imbalance_severe
            and onset is not None
            and t - onset >= self._imbalance_throttle_us
        ):
            return THROTTLE
        return level

    def _spread(self, st: _Instrument, record: Mapping[str, Any], t: int, warm: bool) -> int:
        cfg = self.config
        z = record["spread_z"]
        st.values[SPREAD] = z
        if (
            not warm
            or z is None
            or z < cfg.spread_z_watch
            or record["spread_bps"] < cfg.spread_floor_bps
        ):
            st.onsets[SPREAD] = None
            return 0
        return self._confirmed(st, SPREAD, t, THROTTLE if z >= cfg.spread_z_throttle else WATCH)

    def _depth(
        self, st: _Instrument, record: Mapping[str, Any], t: int, warm: bool, weight: float
    ) -> int:
        cfg = self.config
        bid = record[self._depth_keys[0]]
        ask = record[self._depth_keys[1]]
        bid_avg = st.depth_bid_avg
        ask_avg = st.depth_ask_avg
        if bid_avg < 0.0:  # first record since the start or a reset: the EWMA starts here
            bid_avg = bid
            ask_avg = ask
        ratio = 1.0
        if bid_avg > 0.0 and bid < bid_avg * ratio:
            ratio = bid / bid_avg
        if ask_avg > 0.0 and ask < ask_avg * ratio:
            ratio = ask / ask_avg
        drop = 1.0 - ratio
        st.values[DEPTH] = drop
        st.depth_bid_avg = bid_avg + weight * (bid - bid_avg)
        st.depth_ask_avg = ask_avg + weight * (ask - ask_avg)
        raw = NORMAL
        if warm:
            raw = THROTTLE if drop >= cfg.depth_drop_throttle else (
                WATCH if drop >= cfg.depth_drop_watch else NORMAL
            )  # fmt: skip
            z = record["depth_z"]
            if raw == NORMAL and z is not None and z <= cfg.depth_z_watch:
                # the z-score of a low-variance series is large for small moves: it corroborates
                raw = WATCH if drop >= cfg.depth_z_min_drop else NORMAL
        if raw == NORMAL:
            st.onsets[DEPTH] = None
            return NORMAL
        return self._confirmed(st, DEPTH, t, raw)

    def _cost(
        self, st: _Instrument, record: Mapping[str, Any], t: int, warm: bool, weight: float
    ) -> int:
        costs = record["cost_to_trade"]
        if not costs:
            return self._confirmed(st, COST, t, 0)
        if st.cost_index < 0 or st.cost_index >= len(costs):
            st.cost_index = self._cost_index(costs)
        entry = costs[st.cost_index]
        buy = entry["buy_bps"]
        sell = entry["sell_bps"]
        if buy is None or sell is None:
            # too thin to fill: alarming only if this book used to fill the notional
            st.values[COST] = None
            return self._confirmed(st, COST, t, WATCH if st.cost_fillable and warm else NORMAL)
        st.cost_fillable = True
        worst = buy if buy > sell else sell
        st.values[COST] = worst
        average = st.cost_avg if st.cost_avg >= 0.0 else worst
        st.cost_avg = average + weight * (worst - average)
        cfg = self.config
        if not warm or worst < cfg.cost_watch_bps or worst < cfg.cost_ratio * average:
            st.onsets[COST] = None
            return NORMAL
        return self._confirmed(st, COST, t, THROTTLE if worst >= cfg.cost_throttle_bps else WATCH)

    def _cost_index(self, costs: list[Mapping[str, Any]]) -> int:
        wanted = self.config.cost_notional
        notionals = [float(entry["notional"]) for entry in costs]
        if wanted is not None and wanted in notionals:
            return notionals.index(wanted)
        return notionals.index(max(notionals))

    def _band(self, st: _Instrument, t: int, mid: float, spread_bps: float) -> int:
        st.prices.add(t, mid, self.config.band_min_history_s)
        reference = st.prices.reference
        if reference is None:
            st.values[BAND] = 0.0
            st.onsets[BAND] = None
            return 0
        deviation = mid / reference - 1.0
        st.values[BAND] = deviation
        size = abs(deviation)
        if size < st.band_fraction or 1e4 * size < self.config.noise_spreads * spread_bps:
            st.onsets[BAND] = None
            return 0
        onset = st.onsets[BAND]
        if onset is None:
            st.onsets[BAND] = onset = t
        return HALT if t - onset >= self._band_halt_us else THROTTLE

    # ------------------------------------------------------------------ state machine

    def _advance(
        self, st: _Instrument, record: Mapping[str, Any], t: int, level: int
    ) -> list[dict[str, Any]]:
        state = st.state
        if state == HALT:
            if t < st.until:
                return []
            # LULD reopens with a fresh reference price: the pre-halt window is discarded
            st.prices.clear()
            st.onsets[BAND] = None
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
        if t - st.calm_since < self._calm_us:
            return []
        target = st.calm_peak
        return [self._enter(st, record, t, target, "WATCH" if target else "RESUME", 0)]

    def _escalate(
        self, st: _Instrument, record: Mapping[str, Any], t: int, level: int
    ) -> dict[str, Any]:
        if level == HALT:
            st.until = t + self._halt_us
            return self._enter(st, record, t, HALT, "HALT", 0)
        if level == THROTTLE:
            flow = any(st.levels[rule] >= THROTTLE for rule in _FLOW_RULES)
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
            duration = self.config.halt_duration_s
        elif state == COOLDOWN:
            st.until = t + self._cooldown_us
            duration = self.config.cooldown_s
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
        return reasons(
            self.config,
            st.levels,
            st.values,
            st.onsets,
            st.prices.reference,
            st.band_fraction,
            record,
            t,
        )

    def _metrics(self, st: _Instrument, record: Mapping[str, Any]) -> dict[str, float | None]:
        metrics: dict[str, float | None] = {}
        for name in _METRIC_FIELDS:
            value = record.get(name)
            metrics[name] = None if value is None else float(value)
        costs = record.get("cost_to_trade") or []
        if 0 <= st.cost_index < len(costs):
            entry = costs[st.cost_index]
            metrics["cost_notional"] = float(entry["notional"])
            metrics["cost_buy_bps"] = entry["buy_bps"]
            metrics["cost_sell_bps"] = entry["sell_bps"]
        reference = st.prices.reference
        metrics["reference_price"] = reference
        if reference is not None:
            metrics["band_lower"] = reference * (1.0 - st.band_fraction)
            metrics["band_upper"] = reference * (1.0 + st.band_fraction)
        metrics["velocity_bps"] = st.values[VELOCITY]
        metrics["depth_drop"] = st.values[DEPTH]
        return metrics
