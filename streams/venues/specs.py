"""What a venue's instrument-endpoint parser builds: entries of contract specs with sources.

Each venue module reads its own instrument endpoint (`read_instruments` on its parser, beside the
book parsing of the same venue); `instruments.py` runs them and keeps the registry and files.
`SpecBuilder.add` names every value's source as `url field`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.core.types import ContractSpec, instrument_id

__all__ = ["InstrumentEntry", "SpecBuilder", "positive_number", "price_filter_tick"]


@dataclass(frozen=True, slots=True)
class InstrumentEntry:
    """One instrument's spec and, per value, where it came from."""

    instrument: str
    venue_symbol: str
    spec: ContractSpec
    sources: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "instrument": self.instrument, "venue_symbol": self.venue_symbol,
            "kind": spec.kind, "base": spec.base, "quote": spec.quote,
            "settlement": spec.settlement, "contract_size": spec.contract_size,
            "tick_size": spec.tick_size, "sources": self.sources,
        }  # fmt: skip


def positive_number(text: Any) -> float | None:
    """A positive float from text or a number; anything else is None (not published)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value > 0.0 else None


class SpecBuilder:
    """Collect entries of one response; `add` names each value's source as `url field`."""

    def __init__(self, venue: str, url: str, parser: Any) -> None:
        self.venue = venue
        self.url = url
        self.parser = parser  # the venue's book parser, whose `normalise` names the instrument
        self.entries: list[InstrumentEntry] = []

    def name(self, venue_symbol: str) -> str:
        """The normalised symbol, as the venue's book parser names it."""
        normalise = getattr(self.parser, "normalise", str.upper)  # Coinbase: as sent, upper
        name: str = normalise(venue_symbol)
        return name

    def add(
        self, venue_symbol: str, fields: dict[str, tuple[Any, str]], symbol: str | None = None
    ) -> None:
        """`fields`: name -> (value, where in the response it is, or how it was derived)."""
        fields.setdefault("contract_size", (1.0, "(spot: sizes are base units)"))
        try:
            spec = ContractSpec(**{name: value for name, (value, _) in fields.items()})
            name = symbol or self.name(venue_symbol)
        except (ValueError, TypeError, KeyError, IndexError):
            return  # an instrument we cannot describe is one the registry does not know
        sources = {key: f"{self.url} {where}" for key, (_, where) in fields.items()}
        self.entries.append(
            InstrumentEntry(instrument_id(self.venue, name), venue_symbol, spec, sources)
        )


def price_filter_tick(filters: Iterable[Mapping[str, Any]]) -> float | None:
    """Binance-style `filters[PRICE_FILTER].tickSize`."""
    for item in filters:
        if item.get("filterType") == "PRICE_FILTER":
            return positive_number(item.get("tickSize"))
    return None
