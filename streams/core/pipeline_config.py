"""The whole configuration of the core (metrics + breaker + tiers) as one document, and its hash.

A configuration file is this document in TOML: a `[metrics]` table (fields of `MetricsConfig`),
a `[breaker]` table (fields of `BreakerConfig`) and `[[tiers]]` tables (per-instrument overrides of
breaker thresholds). Keys and types come from the dataclass fields themselves, so a threshold
added to either class is configurable, checked and hashed without touching this module. Pure:
the shell reads the file (streams/config.py) and hands the parsed mapping here.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

from streams.core.breaker_config import INSTRUMENT_KINDS, BreakerConfig, BreakerTier
from streams.core.config import MetricsConfig, config_hash
from streams.core.exceptions import ConfigFileError

__all__ = ["PipelineConfig"]

_SECTIONS = ("metrics", "breaker", "tiers")
_TIER_KEYS = ("name", "exchange", "symbol", "kind")


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineConfig:
    """Parameters of everything the core computes; `config_hash()` is stamped on every output."""

    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)

    def config_hash(self) -> str:
        return config_hash(self.metrics.as_dict(), self.breaker.as_dict())

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> PipelineConfig:
        """Build from a parsed file; raise `ConfigFileError` naming the key path of a mistake."""
        _unknown(document, _SECTIONS, "")
        metrics = _build(MetricsConfig, _table(document, "metrics"), "metrics")
        breaker_values = dict(_table(document, "breaker"))
        if "tiers" in breaker_values:
            raise ConfigFileError("breaker.tiers: write tiers as [[tiers]] tables")
        _unknown(breaker_values, [k for k in _hints(BreakerConfig) if k != "tiers"], "breaker")
        tiers = document.get("tiers", [])
        if not isinstance(tiers, list):
            raise ConfigFileError("tiers: expected an array of tables ([[tiers]])")
        breaker = _build(BreakerConfig, breaker_values, "breaker")
        built = []
        for i, value in enumerate(tiers):
            tier = _tier(value, f"tiers[{i}]")
            try:  # each tier's thresholds on the [breaker] ones must be consistent on their own
                dataclasses.replace(breaker, tiers=(tier,))
            except ValueError as error:
                raise ConfigFileError(f"tiers[{i}]: {error}") from error
            built.append(tier)
        try:
            breaker = dataclasses.replace(breaker, tiers=tuple(built))
        except ValueError as error:
            raise ConfigFileError(f"tiers: {error}") from error
        return cls(metrics=metrics, breaker=breaker)

    def document(self) -> dict[str, Any]:
        """The configuration as a TOML-shaped document (every key; unset optional keys left out)."""
        breaker = {k: v for k, v in _values(self.breaker).items() if k != "tiers"}
        tiers = []
        for tier in self.breaker.tiers:
            entry = {k: getattr(tier, k) for k in _TIER_KEYS if getattr(tier, k) is not None}
            entry["breaker"] = {k: _plain(v) for k, v in tier.overrides}
            tiers.append(entry)
        return {"metrics": _values(self.metrics), "breaker": breaker, "tiers": tiers}


def _values(config: Any) -> dict[str, Any]:
    return {
        spec.name: _plain(getattr(config, spec.name))
        for spec in fields(config)
        if getattr(config, spec.name) is not None
    }


def _plain(value: Any) -> Any:
    return [_plain(item) for item in value] if isinstance(value, tuple) else value


def _table(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = document.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigFileError(f"{name}: expected a table ([{name}])")
    return value


def _unknown(values: Mapping[str, Any], known: typing.Iterable[str], path: str) -> None:
    known = tuple(known)
    for key in values:
        if key not in known:
            where = f"{path}.{key}" if path else key
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
            raise ConfigFileError(f"{where}: unknown key ({hint})")


def _tier(value: Any, path: str) -> BreakerTier:
    """One `[[tiers]]` table: match criteria and a `breaker` table of threshold overrides."""
    if not isinstance(value, Mapping):
        raise ConfigFileError(f"{path}: expected a table")
    _unknown(value, (*_TIER_KEYS, "breaker"), path)
    hints = _hints(BreakerTier)
    criteria = {k: _coerce(f"{path}.{k}", value[k], hints[k]) for k in _TIER_KEYS if k in value}
    if "name" not in criteria:
        raise ConfigFileError(f"{path}.name: missing (every tier has a name)")
    if criteria.get("kind", INSTRUMENT_KINDS[0]) not in INSTRUMENT_KINDS:
        raise ConfigFileError(f"{path}.kind: {criteria['kind']!r} is not one of {INSTRUMENT_KINDS}")
    overrides = value.get("breaker", {})
    if not isinstance(overrides, Mapping):
        raise ConfigFileError(f"{path}.breaker: expected a table of breaker thresholds")
    breaker_hints = _hints(BreakerConfig)
    _unknown(overrides, [name for name in breaker_hints if name != "tiers"], f"{path}.breaker")
    converted = tuple(
        sorted(
            (key, _coerce(f"{path}.breaker.{key}", value, breaker_hints[key]))
            for key, value in overrides.items()
        )
    )
    return BreakerTier(**criteria, overrides=converted)


@cache
def _hints(cls: Any) -> dict[str, Any]:
    names = {spec.name for spec in fields(cls)}
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in names}


def _build(cls: Any, values: Mapping[str, Any], path: str) -> Any:
    """Instantiate a config dataclass from a table: known keys only, each of its field's type."""
    hints = _hints(cls)
    _unknown(values, hints, path)
    converted = {key: _coerce(f"{path}.{key}", value, hints[key]) for key, value in values.items()}
    try:
        return cls(**converted)
    except (ValueError, TypeError) as error:
        raise ConfigFileError(f"{path}: {error}") from error


def _coerce(path: str, value: Any, hint: Any) -> Any:  # noqa: C901 (one branch per type form)
    """Check a TOML value against a field's annotation; lists become tuples, ints floats."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if hint is Any:
        return value
    if origin is typing.Literal:
        if value in arguments:
            return value
        raise ConfigFileError(f"{path}: expected one of {list(arguments)}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        # TOML has no null: an optional key is either absent (its default) or a value
        return _coerce(path, value, next(a for a in arguments if a is not type(None)))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigFileError(f"{path}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigFileError(f"{path}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigFileError(f"{path}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigFileError(f"{path}: expected a string, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigFileError(f"{path}: expected an array, got {value!r}")
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            arguments = (arguments[0],) * len(value)
        elif len(arguments) != len(value):
            raise ConfigFileError(f"{path}: expected {len(arguments)} items, got {len(value)}")
        return tuple(
            _coerce(f"{path}[{i}]", item, kind)
            for i, (item, kind) in enumerate(zip(value, arguments, strict=True))
        )
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigFileError(f"{path}: expected a table, got {value!r}")
        return _build(hint, value, path)
    raise ConfigFileError(f"{path}: a field of type {hint!r} cannot be configured from a file")
