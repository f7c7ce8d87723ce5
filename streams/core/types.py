"""Immutable value types that flow through the core.

The unit of work is one venue packet (`BookDelta`), not one level: per-level objects cost too much
in Python at a million level changes per second, and metrics must only ever see whole packets.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.core.exceptions import InvalidDeltaError

__all__ = [
    "KINDS",
    "MAX_ID_BYTES",
    "MAX_PRICE",
    "MAX_SIZE",
    "MAX_TIME_US",
    "MIN_PRICE",
    "MIN_TIME_US",
    "BookDelta",
    "ContractSpec",
    "SourcePosition",
    "check_id",
    "instrument_id",
]

# What a delta may carry (`BookDelta.validate`). Prices and sizes keep every product of the
# metrics finite (1e15 * 1e18 * 1,000 levels is far below 1.8e308). Times are microseconds from
# 1970 to a day short of the year 10000, so that a date, a Parquet partition and a PostgreSQL
# timestamp hold them, shown in any time zone. Ids are short printable text, as Kafka keys, file
# names and SQL values need.
MIN_PRICE = 1e-12
MAX_PRICE = 1e15
MAX_SIZE = 1e18
MIN_TIME_US = 0
MAX_TIME_US = 253_402_214_399_999_999  # 9999-12-30T23:59:59.999999Z
MAX_ID_BYTES = 64
_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1


def instrument_id(exchange: str, symbol: str) -> str:
    """Return the Kafka key and table key of an instrument: `EXCHANGE:SYMBOL`."""
    return f"{exchange}:{symbol}"


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where an input record came from, so every output can be traced and deduplicated.

    For Kafka input this is (topic, partition, offset); offline readers use the file as the topic,
    partition 0 and the event's ordinal as the offset.
    """

    topic: str
    partition: int
    offset: int


#: spot: size in base; linear: contracts of `contract_size` base; inverse: contracts worth
#: `contract_size` quote each; option: contracts of `contract_size` underlying (base).
KINDS = ("spot", "linear", "inverse", "option")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractSpec:
    """The facts about one instrument that interpreting its book needs.

    `contract_size` is what one unit of the venue's book size is worth: base units for spot,
    linear and option, quote units for inverse (so Deribit futures, whose book amounts are USD,
    have 1.0 although their published contract size is 10).
    """

    kind: str
    base: str
    quote: str
    settlement: str
    contract_size: float = 1.0
    tick_size: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"instrument kind {self.kind!r} is not one of {KINDS}")
        if not self.contract_size > 0.0 or self.contract_size == float("inf"):
            raise ValueError(f"contract_size {self.contract_size!r} is not > 0")
        if self.tick_size is not None and not self.tick_size > 0.0:
            raise ValueError(f"tick_size {self.tick_size!r} is not > 0")

    @property
    def identity(self) -> bool:
        """True when venue sizes already are base units (nothing to convert)."""
        return self.kind != "inverse" and self.contract_size == 1.0


@dataclass(frozen=True, slots=True)
class BookDelta:
    """The level changes of one venue packet for one instrument.

    Prices and sizes are floats parsed directly from the venue's decimal text, so the same text
    always gives the same key; no key is ever computed by arithmetic. A size of 0 deletes the level.
    `is_snapshot` means the packet replaces the whole book. Times are microseconds since the epoch.
    """

    exchange: str
    symbol: str
    venue_symbol: str
    event_time: int
    receive_time: int
    is_snapshot: bool
    bid_prices: tuple[float, ...]
    bid_sizes: tuple[float, ...]
    ask_prices: tuple[float, ...]
    ask_sizes: tuple[float, ...]
    sequence: int | None = None
    prev_sequence: int | None = None
    checksum: int | None = None
    # set when the sizes were converted to base units (streams.core.instruments.to_base_units)
    spec: ContractSpec | None = None

    @property
    def instrument(self) -> str:
        return instrument_id(self.exchange, self.symbol)

    @property
    def level_changes(self) -> int:
        return len(self.bid_prices) + len(self.ask_prices)

    def validate(self) -> BookDelta:
        """Raise `InvalidDeltaError` unless every later stage can hold the delta.

        Called at the boundaries (parsers, decoders): whatever passes, the book, the metrics, the
        breaker and both sinks process without overflow (see the limits above), so no record's
        content can make a later stage fail. Chained comparisons also refuse NaN.
        """
        if not (
            MIN_TIME_US <= self.event_time <= MAX_TIME_US
            and MIN_TIME_US <= self.receive_time <= MAX_TIME_US
        ):
            raise InvalidDeltaError(
                f"{self.instrument}: event/receive time {self.event_time}/{self.receive_time} "
                "is not microseconds from 1970 to 9999-12-30"
            )
        for name in ("sequence", "prev_sequence", "checksum"):
            number = getattr(self, name)
            if number is not None and not _MIN_LONG <= number <= _MAX_LONG:
                raise InvalidDeltaError(f"{self.instrument}: {name} {number} is not a 64-bit int")
        check_id("exchange", self.exchange)
        check_id("symbol", self.symbol)
        if len(self.bid_prices) != len(self.bid_sizes) or len(self.ask_prices) != len(
            self.ask_sizes
        ):
            raise InvalidDeltaError(f"{self.instrument}: price and size arrays differ in length")
        for side, prices, sizes in (
            ("bid", self.bid_prices, self.bid_sizes),
            ("ask", self.ask_prices, self.ask_sizes),
        ):
            for price in prices:
                if not MIN_PRICE <= price <= MAX_PRICE:
                    raise InvalidDeltaError(
                        f"{self.instrument}: {side} price {price!r} out of range"
                    )
            for size in sizes:
                if not 0.0 <= size <= MAX_SIZE:
                    raise InvalidDeltaError(
                        f"{self.instrument}: {side} size {size!r} not in [0, {MAX_SIZE}]"
                    )
        return self


def check_id(name: str, value: str) -> None:
    """Raise `InvalidDeltaError` unless `value` can be an exchange or symbol id: they become
    Kafka keys, table keys, file names and SQL values."""
    if not (value and len(value) <= MAX_ID_BYTES and value.isprintable()) or (
        not value.isascii() and len(value.encode("utf-8", "replace")) > MAX_ID_BYTES
    ):
        raise InvalidDeltaError(f"{name} {value[:80]!r} is not 1..{MAX_ID_BYTES} printable bytes")
