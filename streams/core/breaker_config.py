"""Thresholds of the circuit-breaker rules, with their defaults (rationale: docs/breaker.md).

Frozen, keyword-only, validated when built; `config_hash()` is stable across processes so an audit
can tell which parameters produced a suggestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from streams.core.config import DEPTH_BANDS_BPS, canonical_hash
from streams.core.exceptions import BreakerConfigError
from streams.core.types import KINDS

__all__ = ["DEFAULT_TIER", "INSTRUMENT_KINDS", "BreakerConfig", "BreakerTier"]

#: Instrument classes a tier can match (the instrument registry's `kind`).
INSTRUMENT_KINDS = KINDS
#: Name of the thresholds that apply where no tier matches.
DEFAULT_TIER = "default"


def _frozen(value: Any) -> Any:
    """Lists (from JSON/TOML) as tuples, so a tier stays hashable and its config frozen."""
    return tuple(_frozen(item) for item in value) if isinstance(value, list | tuple) else value


def _plain(value: Any) -> Any:
    return [_plain(item) for item in value] if isinstance(value, tuple) else value


def _reject_unknown_keys(cls: type, values: Mapping[str, Any], what: str) -> None:
    """A mapping (JSON/TOML) may only name the dataclass's fields."""
    unknown = sorted(set(values) - {spec.name for spec in fields(cls)})
    if unknown:
        raise BreakerConfigError(f"unknown {what} keys: {', '.join(unknown)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerTier:
    """Thresholds that replace the defaults for the instruments the tier matches.

    A tier matches an instrument when every criterion holds: `exchange` and `symbol` are globs
    (fnmatch, case-sensitive, `EXCHANGE` as in the instrument id), `kind` an instrument class of
    the registry (None: any). Like LULD's Tier 1 / Tier 2, a few named tiers cover hundreds of
    instruments of different liquidity; the first matching tier in configuration order applies.
    """

    name: str
    exchange: str = "*"
    symbol: str = "*"
    kind: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()

    def matches(self, exchange: str, symbol: str, kind: str | None) -> bool:
        return (
            (self.kind is None or self.kind == kind)
            and fnmatchcase(exchange, self.exchange)
            and fnmatchcase(symbol, self.symbol)
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BreakerTier:
        """Build from {name, exchange, symbol, kind, overrides: {threshold: value}}."""
        _reject_unknown_keys(cls, values, "breaker tier")
        converted = dict(values)
        overrides = converted.get("overrides", ())
        items = overrides.items() if isinstance(overrides, Mapping) else overrides
        converted["overrides"] = tuple(sorted((str(k), _frozen(v)) for k, v in items))
        return cls(**converted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "exchange": self.exchange, "symbol": self.symbol,
            "kind": self.kind, "overrides": {k: _plain(v) for k, v in self.overrides},
        }  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerConfig:
    """All breaker thresholds. Durations are seconds of event time; `*_bps` are basis points."""

    # baselines: what is normal for each instrument, from its own history (docs/breaker.md)
    baseline_bucket_s: float = 10.0
    baseline_window_s: float = 1800.0
    baseline_min_history_s: float = 180.0
    baseline_tail: float = 0.02
    # persistent imbalance (Cont, Kukanov & Stoikov 2014; Gould & Bonart 2016)
    imbalance_threshold: float = 0.6
    imbalance_severe: float = 0.85
    imbalance_odds_ratio: float = 2.0
    imbalance_watch_after_s: float = 10.0
    imbalance_throttle_after_s: float = 30.0
    imbalance_requires_ofi: bool = True
    # abnormal spread: against the usual widest spread, plus an absolute floor against tick noise
    spread_ratio_watch: float = 2.0
    spread_ratio_throttle: float = 4.0
    spread_floor_bps: float = 5.0
    spread_confirm_s: float = 1.0
    spread_throttle_after_s: float = 5.0
    # depth depletion: depth within the narrowest band from `depth_band_bps` on that is stable
    depth_band_bps: int = 25
    depth_stable_fraction: float = 0.5
    depth_below_low: float = 0.5
    depth_drop_throttle: float = 0.8
    depth_confirm_s: float = 1.0
    # cost to trade `cost_notional` (quote currency); None: the largest one the book fills
    cost_notional: float | None = None
    cost_watch_bps: float = 50.0
    cost_throttle_bps: float = 100.0
    cost_ratio_watch: float = 2.0
    cost_ratio_throttle: float = 4.0
    cost_confirm_s: float = 1.0
    # price bands in the style of US Limit Up-Limit Down
    band_percent_by_tier: tuple[float, float, float] = (5.0, 10.0, 20.0)
    default_tier: int = 2
    instrument_tiers: tuple[tuple[str, int], ...] = ()
    band_reference_window_s: int = 300
    band_min_history_s: int = 30
    band_halt_after_s: float = 15.0
    # velocity in the style of CME velocity logic
    velocity_window_s: float = 5.0
    velocity_watch_bps: float = 100.0
    velocity_throttle_bps: float = 200.0
    # moves (velocity, band breach) smaller than this many spreads are quote noise
    noise_spreads: float = 2.0
    # state machine
    calm_s: float = 30.0
    halt_duration_s: float = 300.0
    cooldown_s: float = 60.0
    # per-instrument tiers, each overriding any of the thresholds above (first match applies)
    tiers: tuple[BreakerTier, ...] = ()

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            numeric = isinstance(value, float | int) and not isinstance(value, bool)
            if numeric and value < 0:
                raise BreakerConfigError(f"breaker config {spec.name}={value!r} is negative")
        self._check_pairs()
        if self.depth_band_bps not in DEPTH_BANDS_BPS:
            raise BreakerConfigError(f"depth_band_bps must be one of {DEPTH_BANDS_BPS}")
        if len(self.band_percent_by_tier) != 3 or min(self.band_percent_by_tier) <= 0:
            raise BreakerConfigError("band_percent_by_tier needs three positive percentages")
        for pattern, tier in ((None, self.default_tier), *self.instrument_tiers):
            if tier not in (1, 2, 3):
                raise BreakerConfigError(f"tier {tier!r} of {pattern or 'default'} not 1, 2 or 3")
        if self.cost_notional is not None and self.cost_notional <= 0:
            raise BreakerConfigError("cost_notional must be > 0")
        if min(self.velocity_window_s, self.band_reference_window_s) <= 0:
            raise BreakerConfigError("windows and half-lives must be > 0")
        self._check_tiers()

    def _check_tiers(self) -> None:
        names = [tier.name for tier in self.tiers]
        if len(set(names)) != len(names) or DEFAULT_TIER in names or "" in names:
            raise BreakerConfigError(
                f"tier names must be unique, non-empty and not {DEFAULT_TIER!r}: {names}"
            )
        known = {spec.name for spec in fields(self)} - {"tiers"}
        for tier in self.tiers:
            if tier.kind is not None and tier.kind not in INSTRUMENT_KINDS:
                raise BreakerConfigError(
                    f"tier {tier.name}: kind {tier.kind!r} not one of {INSTRUMENT_KINDS}"
                )
            unknown = sorted({key for key, _ in tier.overrides} - known)
            if unknown:
                raise BreakerConfigError(f"tier {tier.name}: unknown thresholds {unknown}")
            try:
                self._tier_config(tier)  # the overridden thresholds must be consistent too
            except BreakerConfigError as error:
                raise BreakerConfigError(f"tier {tier.name}: {error}") from error

    def _tier_config(self, tier: BreakerTier) -> BreakerConfig:
        return replace(self, tiers=(), **dict(tier.overrides))

    def _check_pairs(self) -> None:
        pairs = (
            ("imbalance_threshold", "imbalance_severe"),
            ("imbalance_watch_after_s", "imbalance_throttle_after_s"),
            ("spread_ratio_watch", "spread_ratio_throttle"),
            ("cost_ratio_watch", "cost_ratio_throttle"),
            ("cost_watch_bps", "cost_throttle_bps"),
            ("velocity_watch_bps", "velocity_throttle_bps"),
        )
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise BreakerConfigError(f"breaker config {low} must not exceed {high}")
        if not 0 < self.depth_drop_throttle < 1 or not 0 < self.depth_below_low <= 1:
            raise BreakerConfigError(
                "depth_drop_throttle must lie in (0, 1), depth_below_low in (0, 1]"
            )
        if not 0 < self.imbalance_severe <= 1:
            raise BreakerConfigError("imbalance_severe must lie in (0, 1]")
        if not 0 < self.baseline_tail < 0.5 or not 0 < self.depth_stable_fraction <= 1:
            raise BreakerConfigError(
                "baseline_tail must lie in (0, 0.5) and depth_stable_fraction in (0, 1]"
            )
        if self.baseline_bucket_s <= 0 or self.baseline_window_s < self.baseline_bucket_s:
            raise BreakerConfigError("baseline_bucket_s must be > 0 and <= baseline_window_s")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BreakerConfig:
        """Build from a plain mapping (JSON/TOML), rejecting unknown keys."""
        _reject_unknown_keys(cls, values, "breaker config")
        converted = dict(values)
        if "band_percent_by_tier" in converted:
            converted["band_percent_by_tier"] = tuple(converted["band_percent_by_tier"])
        if "tiers" in converted:
            converted["tiers"] = tuple(BreakerTier.from_mapping(t) for t in converted["tiers"])
        if "instrument_tiers" in converted:
            converted["instrument_tiers"] = tuple(
                (str(pattern), int(tier)) for pattern, tier in converted["instrument_tiers"]
            )
        return cls(**converted)

    def as_dict(self) -> dict[str, Any]:
        """Return every threshold as JSON-compatible values (tuples become lists)."""
        out: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, tuple):
                value = [item.as_dict() if isinstance(item, BreakerTier) else _plain(item)
                         for item in value]  # fmt: skip
            out[spec.name] = value
        return out

    def config_hash(self) -> str:
        """Return a stable 16-hex-digit hash of the configuration."""
        return canonical_hash(self.as_dict())

    def tier_of(self, instrument: str) -> int:
        """Return the band tier of an instrument: first matching glob in `instrument_tiers`."""
        for pattern, tier in self.instrument_tiers:
            if fnmatchcase(instrument, pattern):
                return tier
        return self.default_tier

    def band_fraction(self, instrument: str) -> float:
        return self.band_percent_by_tier[self.tier_of(instrument) - 1] / 100.0

    def for_instrument(self, instrument: str, kind: str | None = None) -> tuple[str, BreakerConfig]:
        """Return the tier that applies to `EXCHANGE:SYMBOL` (of registry class `kind`) and its
        thresholds: the first matching tier's overrides on these defaults, else ("default", self).
        """
        return _for_instrument(self, instrument, kind)


@lru_cache(maxsize=65_536)
def _for_instrument(
    config: BreakerConfig, instrument: str, kind: str | None
) -> tuple[str, BreakerConfig]:
    exchange, _, symbol = instrument.partition(":")
    for tier in config.tiers:
        if tier.matches(exchange, symbol, kind):
            return tier.name, config._tier_config(tier)
    return DEFAULT_TIER, config
