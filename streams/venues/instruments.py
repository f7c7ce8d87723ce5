"""The instrument registry's venue side: each venue's public instrument endpoint, read into specs.

Every venue publishes its contract specs (kind, contract size or multiplier, currencies, tick) on a
public REST endpoint. `parse_instruments` turns one response into registry entries, each value
with the field it came from; live connectors fetch the endpoints when they start
(`fetch_registry`) and fall back to the bundled snapshot (`instruments.json` beside this module,
built from the recordings' NAME.0 metadata by `python -m streams.connectors.snapshot`). The
rule per kind: docs/metrics.md, "Contract specs". One module for all venues, so venue parsers
stay about books.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streams.core.instruments import InstrumentRegistry
from streams.core.types import ContractSpec, instrument_id
from streams.exceptions import StreamsError
from streams.venues.registry import get_venue
from streams.venues.symbols import asset

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
    "BINANCE": ("https://api.binance.com/api/v3/exchangeInfo",),
    "BINANCE_US": ("https://api.binance.us/api/v3/exchangeInfo",),
    "BINANCE_FUTURES": ("https://fapi.binance.com/fapi/v1/exchangeInfo",),
    "BINANCE_DELIVERY": ("https://dapi.binance.com/dapi/v1/exchangeInfo",),
    "BYBIT": tuple(
        f"https://api.bybit.com/v5/market/instruments-info?category={category}&limit=1000"
        for category in ("spot", "linear", "inverse")
    ),
    "COINBASE": ("https://api.coinbase.com/api/v3/brokerage/market/products",),
    "DERIBIT": tuple(
        f"https://www.deribit.com/api/v2/public/get_instruments?currency={currency}&expired=false"
        for currency in ("BTC", "ETH", "SOL", "USDC")
    ),
    "KRAKEN": ("https://api.kraken.com/0/public/AssetPairs",),
    "KRAKEN_FUTURES": ("https://futures.kraken.com/derivatives/api/v3/instruments",),
    "OKX": tuple(
        f"https://www.okx.com/api/v5/public/instruments?instType={kind}"
        for kind in ("SPOT", "SWAP", "FUTURES")
    ),
    "OKCOIN": ("https://www.okcoin.com/api/v5/public/instruments?instType=SPOT",),
}


class InstrumentFileError(StreamsError):
    """An instrument file (--instruments, the bundled snapshot) that cannot be used."""


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


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value > 0.0 else None


class _Builder:
    """Collect entries of one response; `add` names each value's source as `url field`."""

    def __init__(self, venue: str, url: str, endpoint: str = "") -> None:
        self.venue = venue
        self.url = url
        self.parser = get_venue(venue, endpoint)
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


def _tick(filters: Iterable[Mapping[str, Any]]) -> float | None:
    for item in filters:
        if item.get("filterType") == "PRICE_FILTER":
            return _number(item.get("tickSize"))
    return None


def _binance(build: _Builder, body: Any) -> None:
    for item in body.get("symbols", []):
        symbol = item["symbol"]
        at = f"symbols[symbol={symbol}]"
        base, quote = asset(item["baseAsset"]), asset(item["quoteAsset"])
        common = {
            "base": (base, f"{at}.baseAsset"), "quote": (quote, f"{at}.quoteAsset"),
            "tick_size": (_tick(item.get("filters", [])), f"{at}.filters[PRICE_FILTER].tickSize"),
        }  # fmt: skip
        fields: dict[str, tuple[Any, str]]
        if build.venue in ("BINANCE", "BINANCE_US"):
            fields = {"kind": ("spot", "(spot exchangeInfo)"),
                      "settlement": (quote, f"{at}.quoteAsset (spot)")}  # fmt: skip
        elif build.venue == "BINANCE_FUTURES":
            fields = {
                "kind": ("linear", f"{at}.contractType (USD-M: quantity in the base asset)"),
                "settlement": (asset(item["marginAsset"]), f"{at}.marginAsset"),
                "contract_size": (1.0, "(USD-M quantities are base units; no contractSize)"),
            }
        else:
            fields = {
                "kind": ("inverse", f"{at}.contractType (COIN-M: contracts of contractSize USD)"),
                "settlement": (asset(item["marginAsset"]), f"{at}.marginAsset"),
                "contract_size": (float(item["contractSize"]), f"{at}.contractSize"),
            }
        build.add(symbol, {**common, **fields})


def _bybit(build: _Builder, body: Any) -> None:
    result = body.get("result", {})
    category = result.get("category", "")
    build.parser = get_venue("BYBIT", f"wss://stream.bybit.com/v5/public/{category}")
    for item in result.get("list", []):
        symbol = item["symbol"]
        at = f"result.list[symbol={symbol}]"
        base, quote = asset(item["baseCoin"]), asset(item["quoteCoin"])
        settle = asset(item.get("settleCoin") or quote)
        kind = {"spot": "spot", "linear": "linear", "inverse": "inverse"}.get(category)
        where = "contractType" if category != "spot" else "(category=spot)"
        size_note = {"spot": "base units", "linear": "qty in the base coin",
                     "inverse": "contracts of 1 USD"}.get(category, "")  # fmt: skip
        tick = _number(item.get("priceFilter", {}).get("tickSize"))
        build.add(symbol, {
            "kind": (kind, f"{at}.{where}"), "base": (base, f"{at}.baseCoin"),
            "quote": (quote, f"{at}.quoteCoin"), "settlement": (settle, f"{at}.settleCoin"),
            "contract_size": (1.0, f"(Bybit v5 {category}: {size_note})"),
            "tick_size": (tick, f"{at}.priceFilter.tickSize"),
        })  # fmt: skip


def _coinbase(build: _Builder, body: Any) -> None:
    products = body.get("products", []) if isinstance(body, dict) else body
    for item in products:
        symbol = item.get("product_id") or item["id"]
        at = f"products[{symbol}]"
        base = asset(item.get("base_currency_id") or item["base_currency"])
        quote = asset(item.get("quote_currency_id") or item["quote_currency"])
        build.add(symbol, {
            "kind": ("spot", "(spot products)"), "base": (base, f"{at}.base_currency"),
            "quote": (quote, f"{at}.quote_currency"), "settlement": (quote, f"{at}.quote_currency"),
            "tick_size": (_number(item.get("quote_increment")), f"{at}.quote_increment"),
        })  # fmt: skip


def _deribit(build: _Builder, body: Any) -> None:
    for item in body.get("result", []):
        name = item["instrument_name"]
        at = f"result[instrument_name={name}]"
        base, quote = asset(item["base_currency"]), asset(item["quote_currency"])
        settle = asset(item.get("settlement_currency") or item.get("counter_currency") or base)
        if item["kind"] == "option":
            kind, size = "option", float(item["contract_size"])
            size_at = f"{at}.contract_size (amount in the underlying)"
        elif item["kind"] == "future" and quote == "USD":
            kind, size = "inverse", 1.0  # book amounts are USD; contract_size 10 is the lot
            size_at = f"{at}.quote_currency=USD: amounts are USD (contract_size is the USD lot)"
        elif item["kind"] == "future":
            kind, size = "linear", 1.0
            size_at = f"{at}.kind=future, quote {quote}: amounts in the base currency"
        else:
            continue  # combos have no book of their own here
        build.add(name, {
            "kind": (kind, f"{at}.kind"), "base": (base, f"{at}.base_currency"),
            "quote": (quote, f"{at}.quote_currency"),
            "settlement": (settle, f"{at}.settlement_currency (default: base_currency)"),
            "contract_size": (size, size_at),
            "tick_size": (_number(item["tick_size"]), f"{at}.tick_size"),
        })  # fmt: skip


def _kraken(build: _Builder, body: Any) -> None:
    for pair, item in body.get("result", {}).items():
        wsname = item.get("wsname")
        if not wsname or "/" not in wsname:
            continue
        at = f"result.{pair}"
        base, quote = (asset(part) for part in wsname.split("/"))
        tick = _number(item.get("tick_size")) or 10.0 ** -int(item["pair_decimals"])
        build.add(wsname, {
            "kind": ("spot", f"{at}.aclass_base"), "base": (base, f"{at}.wsname"),
            "quote": (quote, f"{at}.wsname"), "settlement": (quote, f"{at}.wsname (spot)"),
            "tick_size": (tick, f"{at}.pair_decimals"),
        })  # fmt: skip


def _kraken_futures(build: _Builder, body: Any) -> None:
    kinds = {
        "futures_inverse": "inverse",
        "flexible_futures": "linear",
        "futures_vanilla": "linear",
    }
    for item in body.get("instruments", []):
        kind = kinds.get(item.get("type", ""))
        if kind is None:
            continue
        symbol = item["symbol"].upper()
        at = f"instruments[symbol={item['symbol']}]"
        base, quote = build.name(symbol).split("-")[:2]
        settle = base if kind == "inverse" else quote
        build.add(symbol, {
            "kind": (kind, f"{at}.type"), "base": (base, f"{at}.underlying"),
            "quote": (quote, f"{at}.underlying"),
            "settlement": (settle, f"{at}.type (inverse: settles in the base)"),
            "contract_size": (float(item["contractSize"]), f"{at}.contractSize"),
            "tick_size": (_number(item.get("tickSize")), f"{at}.tickSize"),
        })  # fmt: skip


def _okx(build: _Builder, body: Any) -> None:
    for item in body.get("data", []):
        name = item["instId"]
        at = f"data[instId={name}]"
        tick = (_number(item.get("tickSz")), f"{at}.tickSz")
        if item["instType"] == "SPOT":
            base, quote = asset(item["baseCcy"]), asset(item["quoteCcy"])
            build.add(name, {
                "kind": ("spot", f"{at}.instType"), "base": (base, f"{at}.baseCcy"),
                "quote": (quote, f"{at}.quoteCcy"), "settlement": (quote, f"{at}.quoteCcy"),
                "tick_size": tick,
            })  # fmt: skip
            continue
        base, quote = (asset(part) for part in item["uly"].split("-")[:2])
        kind = {"linear": "linear", "inverse": "inverse"}.get(item.get("ctType", ""), "option")
        size = float(item["ctVal"]) * float(item.get("ctMult") or 1)
        build.add(name, {
            "kind": (kind, f"{at}.ctType"), "base": (base, f"{at}.uly"),
            "quote": (quote, f"{at}.uly"),
            "settlement": (asset(item["settleCcy"]), f"{at}.settleCcy"),
            "contract_size": (size, f"{at}.ctVal * ctMult (in ctValCcy={item['ctValCcy']})"),
            "tick_size": tick,
        })  # fmt: skip


_PARSERS: dict[str, Callable[[_Builder, Any], None]] = {
    "BINANCE": _binance, "BINANCE_US": _binance, "BINANCE_FUTURES": _binance,
    "BINANCE_DELIVERY": _binance, "BYBIT": _bybit, "COINBASE": _coinbase, "DERIBIT": _deribit,
    "KRAKEN": _kraken, "KRAKEN_FUTURES": _kraken_futures, "OKX": _okx, "OKCOIN": _okx,
}  # fmt: skip


def parse_instruments(venue: str, url: str, body: str | bytes) -> list[InstrumentEntry]:
    """Entries of one response of a venue's instrument endpoint (unknown venue: none)."""
    parse = _PARSERS.get(venue.upper())
    if parse is None:
        return []
    builder = _Builder(venue.upper(), url.split("?")[0] + _query(url))
    try:
        parse(builder, json.loads(body))
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
