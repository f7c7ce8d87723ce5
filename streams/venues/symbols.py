"""Symbol normalisation shared by venue parsers.

Normalised forms (schemas/book_delta.avsc): BASE-QUOTE for spot, BASE-QUOTE-PERP for perpetuals,
BASE-QUOTE-YYYYMMDD for dated futures (options append -STRIKE-C/P). Venue aliases such as XBT
become the common code, so the same asset has the same name on every venue.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "ASSET_ALIASES",
    "QUOTE_ASSETS",
    "asset",
    "expiry_from_day_month_year",
    "expiry_from_yymmdd",
    "split_concatenated",
]

ASSET_ALIASES = {"XBT": "BTC", "XDG": "DOGE"}

# Longest first, so BUSD wins over USD and USDT over USD.
QUOTE_ASSETS = tuple(
    sorted(
        (
            "USDT",
            "USDC",
            "BUSD",
            "TUSD",
            "FDUSD",
            "USD",
            "EUR",
            "GBP",
            "TRY",
            "BRL",
            "AUD",
            "BTC",
            "ETH",
            "BNB",
            "DAI",
            "JPY",
            "CHF",
            "CAD",
            "XBT",
            "BIDR",
            "IDRT",
            "RUB",
            "UAH",
            "NGN",
            "ZAR",
            "PAX",
            "USDS",
            "VAI",
            "TRX",
            "XRP",
            "DOGE",
            "DOT",
            "PLN",
            "RON",
        ),
        key=len,
        reverse=True,
    )
)

_MONTHS = {
    "JAN": "01", "FEB": "02", "MAR": "03", "APR": "04", "MAY": "05", "JUN": "06",
    "JUL": "07", "AUG": "08", "SEP": "09", "OCT": "10", "NOV": "11", "DEC": "12",
}  # fmt: skip


def asset(code: str) -> str:
    """Upper-case an asset code and replace venue aliases (XBT -> BTC)."""
    upper = code.upper()
    return ASSET_ALIASES.get(upper, upper)


@lru_cache(maxsize=4096)
def split_concatenated(symbol: str) -> tuple[str, str]:
    """Split `NKNUSDT` into (`NKN`, `USDT`) by the longest known quote suffix.

    Without the venue's instrument list this is a heuristic; an unknown quote keeps the symbol
    whole as the base so nothing is silently renamed.
    """
    upper = symbol.upper()
    for quote in QUOTE_ASSETS:
        if upper.endswith(quote) and len(upper) > len(quote):
            return asset(upper[: -len(quote)]), asset(quote)
    return upper, ""


def expiry_from_yymmdd(text: str) -> str:
    """`211231` -> `20211231`."""
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"not a YYMMDD expiry: {text!r}")
    return "20" + text


def expiry_from_day_month_year(text: str) -> str:
    """Deribit style `24SEP21` or `3DEC21` -> `20210924`."""
    day, month, year = text[:-5], text[-5:-2].upper(), text[-2:]
    if month not in _MONTHS or not day.isdigit() or not year.isdigit():
        raise ValueError(f"not a DMMMYY expiry: {text!r}")
    return f"20{year}{_MONTHS[month]}{int(day):02d}"
