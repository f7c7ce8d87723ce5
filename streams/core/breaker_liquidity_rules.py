"""The liquidity rules: imbalance, spread, depth and cost to trade, each against its own normal.

Each judges the instrument against its own `Baseline` (what is usual for it), and holds its level
until the statistic is back inside its normal range (hysteresis), so a condition that hovers at a
threshold does not flap. A THROTTLE of these suggests WIDEN_BANDS, except the imbalance rule's,
which slows the order flow. Sources and rationale: docs/breaker.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from streams.core.breaker_config import BreakerConfig
from streams.core.breaker_rule import NORMAL, THROTTLE, WATCH, Rule, RuleState, micros, reason_of
from streams.core.breaker_windows import Baseline
from streams.core.config import DEPTH_BANDS_BPS

__all__ = ["UNFILLABLE_BPS", "CostRule", "DepthRule", "ImbalanceRule", "SpreadRule"]

#: cost of a notional the book cannot fill at all: 100 % of mid (finite, so states stay JSON)
UNFILLABLE_BPS = 1e4
# odds of a depth imbalance of 1 (one side empty): large but finite
_MAX_IMBALANCE = 1.0 - 1e-12


class ImbalanceRule(Rule):
    """One side of the book outweighs the other, beyond the instrument's usual extreme, with flow.

    Depth imbalance predicts the next mid move (Gould & Bonart 2016) and order-flow imbalance is
    what moves prices (Cont, Kukanov & Stoikov 2014); requiring both filters idle resting depth.
    """

    name: ClassVar[str] = "persistent_imbalance"
    flow: ClassVar[bool] = True

    def __init__(self, config: BreakerConfig) -> None:
        super().__init__(config)
        self.watch_us = micros(config.imbalance_watch_after_s)
        self.throttle_us = micros(config.imbalance_throttle_after_s)

    def new_state(self, instrument: str) -> RuleState:
        return RuleState([self._baseline(lowest=False)])

    def evaluate(self, s: RuleState, record: Mapping[str, Any], t: int) -> int:
        cfg = self.config
        imbalance = record["depth_imbalance_10"]
        size = abs(imbalance)
        s.value = imbalance
        baseline = s.baselines[0]
        baseline.add(t, size)
        # the usual extreme as the odds of one side against the other, then `odds_ratio` times it
        usual = min(baseline.edge, _MAX_IMBALANCE)
        odds = cfg.imbalance_odds_ratio * (1.0 + usual) / (1.0 - usual)
        threshold = max(cfg.imbalance_threshold, (odds - 1.0) / (odds + 1.0))
        s.threshold = threshold
        confirmed = not cfg.imbalance_requires_ofi or record["ofi_10s"] * imbalance > 0.0
        if size < threshold or not confirmed or not baseline.armed:
            s.onset = None
            s.level = NORMAL
            return NORMAL
        baseline.mark_stressed()
        if s.onset is None:
            s.onset = t
        held = t - s.onset
        level = WATCH if held >= self.watch_us else NORMAL
        severe = size >= cfg.imbalance_severe and held >= self.throttle_us
        if level and (severe or s.level == THROTTLE):  # held while the imbalance lasts
            level = THROTTLE
        s.level = level
        return level

    def reason(self, s: RuleState, record: Mapping[str, Any], t: int) -> dict[str, Any]:
        cfg = self.config
        imbalance = s.value or 0.0
        threshold = cfg.imbalance_severe if s.level >= THROTTLE else s.threshold
        return reason_of(
            self.name, imbalance, threshold,
            f"|depth imbalance over 10 levels| {abs(imbalance):.3f} >= {threshold:.3f} "
            f"(at least {cfg.imbalance_threshold:g} and {cfg.imbalance_odds_ratio:g}x the "
            f"odds of its usual extreme {s.baselines[0].edge:.3f}) for {self._held(s, t):.1f} s, "
            f"ofi_10s {record['ofi_10s']:.6g} of the same sign",
        )  # fmt: skip


class SpreadRule(Rule):
    """The spread is a multiple of the widest it usually gets, and wide in absolute terms.

    The seed's "spreads widening beyond statistically normal ranges"; the absolute floor keeps a
    1 -> 3 tick move in a very tight book from counting as a liquidity event.
    """

    name: ClassVar[str] = "abnormal_spread"

    def __init__(self, config: BreakerConfig) -> None:
        super().__init__(config)
        self.confirm_us = micros(config.spread_confirm_s)
        self.throttle_after_us = micros(config.spread_throttle_after_s)

    def new_state(self, instrument: str) -> RuleState:
        return RuleState([self._baseline(lowest=False)])

    def evaluate(self, s: RuleState, record: Mapping[str, Any], t: int) -> int:
        cfg = self.config
        spread = record["spread_bps"]
        s.value = spread
        baseline = s.baselines[0]
        baseline.add(t, spread)
        usual = baseline.edge
        watch_at = max(cfg.spread_floor_bps, cfg.spread_ratio_watch * usual)
        throttle_at = max(cfg.spread_floor_bps, cfg.spread_ratio_throttle * usual)
        raw = NORMAL
        if baseline.armed:
            if spread >= throttle_at:
                raw = THROTTLE
            elif spread >= watch_at:
                # an abnormal spread that lasts is a blow-out too (thin books quote wide anyway)
                lasted = s.onset is not None and t - s.onset >= self.throttle_after_us
                raw = THROTTLE if lasted else WATCH
            elif s.level and spread > max(usual, cfg.spread_floor_bps):
                raw = s.level  # held (hysteresis) until the spread is back in its usual range
        s.threshold = throttle_at if raw >= THROTTLE else watch_at
        if raw:
            baseline.mark_stressed()
        return self._confirm(s, t, raw, self.confirm_us)

    def reason(self, s: RuleState, record: Mapping[str, Any], t: int) -> dict[str, Any]:
        return reason_of(
            self.name, s.value or 0.0, s.threshold,
            f"spread {s.value or 0.0:.2f} bps >= {s.threshold:.2f} bps "
            f"({self.config.spread_ratio_watch:g}x / {self.config.spread_ratio_throttle:g}x the "
            f"widest it usually gets, {s.baselines[0].edge:.2f} bps) for {self._held(s, t):.1f} s",
        )  # fmt: skip

    def metrics(self, s: RuleState, out: dict[str, float | None]) -> None:
        out["spread_usual_bps"] = s.baselines[0].edge


class DepthRule(Rule):
    """Depth on the thinner side fell well below its usual lows (THROTTLE: and far below usual).

    Liquidity withdrawal precedes and amplifies crashes (CFTC/SEC 2010 on May 6, 2010). Each side
    is judged on the narrowest band (from `depth_band_bps` outwards) whose usual low is at least
    `depth_stable_fraction` of its median: on a thin book the 25 bps band empties and refills all
    day as single orders come and go, and that is not a withdrawal.
    """

    name: ClassVar[str] = "depth_depletion"

    def __init__(self, config: BreakerConfig) -> None:
        super().__init__(config)
        self.confirm_us = micros(config.depth_confirm_s)
        self.bands = tuple(band for band in DEPTH_BANDS_BPS if band >= config.depth_band_bps)
        self.keys = tuple(
            f"depth_{side}_{band}bps" for side in ("bid", "ask") for band in self.bands
        )

    def new_state(self, instrument: str) -> RuleState:
        return RuleState([self._baseline(lowest=True) for _ in self.keys])

    def evaluate(self, s: RuleState, record: Mapping[str, Any], t: int) -> int:
        cfg = self.config
        baselines = s.baselines
        keys = self.keys
        for index, key in enumerate(keys):
            baselines[index].add(t, record[key])
        worst = 0.0
        below = False
        chosen = -1
        per_side = len(self.bands)
        for first in (0, per_side):
            index = self._stable_band(baselines, first, first + per_side)
            if index < 0:
                continue
            baseline = baselines[index]
            depth = record[keys[index]]
            drop = 1.0 - depth / baseline.median
            if chosen < 0 or drop > worst:
                worst = drop
                below = depth < baseline.edge * (cfg.depth_below_low if not s.level else 1.0)
                chosen = index
        s.index = chosen  # into `keys`: the side and band judged
        s.value = worst if chosen >= 0 else None
        # held (hysteresis) until the depth is back at its usual low
        raw = (THROTTLE if worst >= cfg.depth_drop_throttle else WATCH) if below else NORMAL
        if raw:
            s.mark_stressed()
        return self._confirm(s, t, raw, self.confirm_us)

    def _stable_band(self, baselines: list[Baseline], start: int, stop: int) -> int:
        fraction = self.config.depth_stable_fraction
        for index in range(start, stop):
            baseline = baselines[index]
            if baseline.armed and baseline.ratio >= fraction:
                return index
        return -1

    def _where(self, s: RuleState) -> tuple[str, Baseline] | None:
        if s.index < 0:
            return None
        return self.keys[s.index], s.baselines[s.index]

    def reason(self, s: RuleState, record: Mapping[str, Any], t: int) -> dict[str, Any]:
        cfg = self.config
        drop = s.value or 0.0
        where = self._where(s)
        key, baseline = where if where is not None else ("depth", s.baselines[0])
        if s.level >= THROTTLE:
            threshold = cfg.depth_drop_throttle
            limit = f"and >= {100.0 * threshold:.0f} % below its usual {baseline.median:.6g}"
        else:
            threshold = 1.0 - cfg.depth_below_low * baseline.edge / baseline.median
            limit = f"({100.0 * drop:.0f} % below its usual {baseline.median:.6g})"
        return reason_of(
            self.name, drop, threshold,
            f"{key} {record.get(key, 0.0):.6g} is below {cfg.depth_below_low:g}x its usual low "
            f"{baseline.edge:.6g} {limit} for {self._held(s, t):.1f} s",
        )  # fmt: skip

    def metrics(self, s: RuleState, out: dict[str, float | None]) -> None:
        out["depth_drop"] = s.value
        where = self._where(s)
        if where is not None:
            key, baseline = where
            out["depth_band_bps"] = float(key.split("_")[2].removesuffix("bps"))
            out["depth_usual"] = baseline.median
            out["depth_usual_low"] = baseline.edge


class CostRule(Rule):
    """Trading the notional costs a multiple of what it usually costs at worst, and a lot.

    Slippage of larger orders is what a throttle protects. The notional is the largest one this
    instrument's book (as the feed shows it) usually fills: a top-of-book feed that never could
    fill 100 000 has not "lost" that ability.
    """

    name: ClassVar[str] = "cost_to_trade"

    def __init__(self, config: BreakerConfig) -> None:
        super().__init__(config)
        self.confirm_us = micros(config.cost_confirm_s)

    def new_state(self, instrument: str) -> RuleState:
        return RuleState([])  # one baseline per notional, made as the records show them

    def restore(self, s: RuleState, state: Mapping[str, Any]) -> None:
        s.baselines = [self._baseline(lowest=False) for _ in state["baselines"]]
        s.load_state(state)

    def evaluate(self, s: RuleState, record: Mapping[str, Any], t: int) -> int:
        cfg = self.config
        costs = record["cost_to_trade"]
        baselines = s.baselines
        while len(baselines) < len(costs):
            baselines.append(self._baseline(lowest=False))
        chosen = -1
        largest = -1.0
        worst_chosen = 0.0
        for index, entry in enumerate(costs):
            buy = entry["buy_bps"]
            sell = entry["sell_bps"]
            worst = UNFILLABLE_BPS if buy is None or sell is None else max(buy, sell)
            worst = min(worst, UNFILLABLE_BPS)
            baseline = baselines[index]
            baseline.add(t, worst)
            notional = entry["notional"]
            wanted = cfg.cost_notional is None or notional == cfg.cost_notional
            if wanted and notional > largest and baseline.armed and baseline.edge < UNFILLABLE_BPS:
                chosen = index
                largest = notional
                worst_chosen = worst
        s.index = chosen
        if chosen < 0:
            s.value = None
            return self._confirm(s, t, NORMAL, self.confirm_us)
        usual = baselines[chosen].edge
        watch_at = max(cfg.cost_watch_bps, cfg.cost_ratio_watch * usual)
        throttle_at = max(cfg.cost_throttle_bps, cfg.cost_ratio_throttle * usual)
        s.value = worst_chosen
        raw = NORMAL
        if worst_chosen >= throttle_at:
            raw = THROTTLE
        elif worst_chosen >= watch_at or (s.level and worst_chosen > usual):
            raw = WATCH
        s.threshold = throttle_at if raw >= THROTTLE else watch_at
        if raw:
            s.mark_stressed()
        return self._confirm(s, t, raw, self.confirm_us)

    def reason(self, s: RuleState, record: Mapping[str, Any], t: int) -> dict[str, Any]:
        cost = s.value or 0.0
        notional = record["cost_to_trade"][s.index]["notional"] if s.index >= 0 else 0.0
        unfillable = cost >= UNFILLABLE_BPS
        what = "cannot be filled by the book" if unfillable else f"costs {cost:.1f} bps"
        return reason_of(
            self.name, cost, s.threshold,
            f"trading {notional:g} on the worse side {what} (threshold {s.threshold:.1f} bps: "
            f"{self.config.cost_ratio_watch:g}x / {self.config.cost_ratio_throttle:g}x its usual "
            f"worst {s.baselines[s.index].edge if s.index >= 0 else 0.0:.1f} bps) for "
            f"{self._held(s, t):.1f} s",
        )  # fmt: skip

    def metrics(self, s: RuleState, out: dict[str, float | None]) -> None:
        if s.index >= 0:
            out["cost_usual_bps"] = s.baselines[s.index].edge
