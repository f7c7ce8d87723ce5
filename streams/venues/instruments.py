"""The instrument registry's venue side: each venue's public instrument endpoint, read into specs.

Every venue publishes its contract specs (kind, contract size or multiplier, currencies, tick) on a
public REST endpoint, which its venue module reads (`instrument_endpoints`, `read_instruments`,
beside the book parser, into `specs.SpecBuilder`). `parse_instruments` runs one response through
them; live connectors fetch the endpoints when they start (`fetch_registry`) and fall back to the
bundled snapshot (`instruments.json` beside this module, built from the recordings' NAME.0
metadata by `python -m streams.connectors.snapshot`). The rule per kind: docs/metrics.md,
"Contract specs".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streams.core.instruments import InstrumentRegistry
from streams.core.types import ContractSpec
from streams.exceptions import StreamsError
from streams.venues.registry import get_venue, venue_names
from streams.venues.specs import InstrumentEntry, SpecBuilder

__all__ = [
    "BUNDLED",
    "ENDPOINTS",
    "InstrumentEntry",
    "InstrumentFileError",
    "bundled_registry",
    "fetch_registry",
    "load_entries",
    "load_registry",
    "parse_instruments",
    "registry_of",
]

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).with_name("instruments.json")

ENDPOINTS: dict[str, tuple[str, ...]] = {
    name: get_venue(name).instrument_endpoints
    for name in venue_names()
    if get_venue(name).instrument_endpoints
}


class InstrumentFileError(StreamsError):
    """An instrument file (--instruments, the bundled snapshot) that cannot be used."""


def parse_instruments(venue: str, url: str, body: str | bytes) -> list[InstrumentEntry]:
    """Entries of one response of a venue's instrument endpoint (unknown venue: none)."""
    name = venue.upper()
    if name not in ENDPOINTS:
        return []
    builder = SpecBuilder(name, url.split("?")[0] + _query(url), get_venue(name))
    try:
        builder.parser.read_instruments(builder, json.loads(body))
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise InstrumentFileError(f"{venue} {url}: not an instrument list: {error}") from error
    return builder.entries


def _query(url: str) -> str:
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items() if k != "limit"}
    return ("?" + "&".join(f"{k}={v}" for k, v in sorted(query.items()))) if query else ""


def registry_of(entries: Iterable[InstrumentEntry]) -> InstrumentRegistry:
    return InstrumentRegistry({entry.instrument: entry.spec for entry in entries})


def _entry(row: Mapping[str, Any]) -> InstrumentEntry:
    tick = row.get("tick_size")
    spec = ContractSpec(
        kind=row["kind"], base=row["base"], quote=row["quote"],
        settlement=row.get("settlement") or row["quote"],
        contract_size=float(row.get("contract_size", 1.0)),
        tick_size=None if tick is None else float(tick),
    )  # fmt: skip
    return InstrumentEntry(row["instrument"], row.get("venue_symbol", ""), spec,
                           dict(row.get("sources", {})))  # fmt: skip


def load_entries(path: Path) -> list[InstrumentEntry]:
    """Read an instrument file: {"instruments": [{instrument, kind, base, quote, ...}, ...]}."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [_entry(row) for row in document["instruments"]]
    except OSError as error:
        raise InstrumentFileError(f"{path}: cannot read: {error.strerror or error}") from error
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise InstrumentFileError(f"{path}: not an instrument file: {error!r}") from error


def bundled_registry() -> InstrumentRegistry:
    return registry_of(load_entries(BUNDLED))


def load_registry(path: str | Path | None) -> InstrumentRegistry:
    """The bundled snapshot, overridden by the entries of `path` when given."""
    registry = bundled_registry()
    return registry if path is None else registry.merged(registry_of(load_entries(Path(path))))


async def fetch_registry(
    venue: str, get: Callable[[str], Any], rewrite: Callable[[str], str] = lambda url: url
) -> InstrumentRegistry:
    """Specs from the venue's live endpoints over the bundled snapshot; the snapshot alone (with
    a warning) when an endpoint fails, so a connector never stops for want of metadata."""
    registry = bundled_registry()
    for url in ENDPOINTS.get(venue.upper(), ()):
        try:
            body = await get(rewrite(url))
            registry = registry.merged(registry_of(parse_instruments(venue, url, body)))
        except Exception as error:
            log.warning("%s: instrument endpoint %s failed (%s); using the bundled snapshot",
                        venue, url, error)  # fmt: skip
    return registry
