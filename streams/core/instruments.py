"""Contract specs: what a venue's book size means, so every size becomes base units once.

Venues count book sizes in different units: spot and most linear perpetuals in the base asset,
OKX linear swaps in contracts of `ctVal` base, inverse contracts (Binance COIN-M, OKX inverse,
Kraken Futures, Deribit futures) in a fixed amount of the quote currency, options in contracts of
some amount of the underlying. The boundary (connector, file reader) converts with
`to_base_units`, so the book, the metrics and the breaker see base units only and every notional
`price * size` is in the quote currency whatever the kind (docs/metrics.md, "Contract specs").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from streams.core.exceptions import InvalidDeltaError
from streams.core.types import KINDS, BookDelta, ContractSpec

__all__ = ["KINDS", "ContractSpec", "InstrumentRegistry", "to_base_units"]


class InstrumentRegistry:
    """Contract specs by instrument id (`EXCHANGE:SYMBOL`); later entries override earlier."""

    __slots__ = ("_specs",)

    def __init__(self, specs: Mapping[str, ContractSpec] | None = None) -> None:
        self._specs: dict[str, ContractSpec] = dict(specs or {})

    def get(self, instrument: str) -> ContractSpec | None:
        return self._specs.get(instrument)

    def merged(self, other: InstrumentRegistry) -> InstrumentRegistry:
        return InstrumentRegistry({**self._specs, **other._specs})

    def items(self) -> Iterable[tuple[str, ContractSpec]]:
        return sorted(self._specs.items())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, instrument: object) -> bool:
        return instrument in self._specs

    def convert(self, delta: BookDelta) -> BookDelta:
        """The delta in base units with its spec attached; unknown instruments pass unchanged."""
        spec = self._specs.get(delta.instrument)
        return delta if spec is None else to_base_units(delta, spec)


def _sizes(
    spec: ContractSpec, prices: tuple[float, ...], sizes: tuple[float, ...]
) -> tuple[float, ...]:
    factor = spec.contract_size
    if spec.kind == "inverse":  # contracts * (quote per contract) / (quote per base)
        return tuple(size * factor / price for price, size in zip(prices, sizes, strict=True))
    return tuple(size * factor for size in sizes)


def to_base_units(delta: BookDelta, spec: ContractSpec) -> BookDelta:
    """Return `delta` with sizes in base units and `spec` attached (a size of 0 stays 0)."""
    if delta.spec is not None:
        raise InvalidDeltaError(f"{delta.instrument}: sizes are already converted")
    if spec.identity:
        return dataclasses.replace(delta, spec=spec)
    return dataclasses.replace(
        delta,
        bid_sizes=_sizes(spec, delta.bid_prices, delta.bid_sizes),
        ask_sizes=_sizes(spec, delta.ask_prices, delta.ask_sizes),
        spec=spec,
    )
