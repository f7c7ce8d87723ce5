"""The contract every venue parser meets, and the small parsing helpers they share.

A parser turns one raw frame into `VenueUpdate`s; it never opens a socket and keeps at most
per-connection facts (Bybit's market comes from the endpoint). Every failure on bad input becomes
a `ParseError`, raised from one place (`BaseVenueParser.parse`), so no venue forgets a case.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar, Protocol, runtime_checkable

from streams.core.exceptions import InvalidDeltaError
from streams.core.sync import SequenceRule
from streams.core.types import BookDelta
from streams.venues.checksum import ChecksumBook
from streams.venues.exceptions import ParseError
from streams.venues.specs import SpecBuilder

__all__ = [
    "EMPTY",
    "MAX_FRAME_BYTES",
    "BaseVenueParser",
    "Capabilities",
    "ParseResult",
    "SnapshotSource",
    "SocketAddress",
    "VenueParser",
    "VenueUpdate",
    "iso_to_micros",
    "load_json",
    "make_delta",
    "parse_levels",
    "raw_levels",
    "seconds_text_to_micros",
]

MAX_FRAME_BYTES = 8 * 1024 * 1024  # the largest real frame (Coinbase BTC-USD snapshot) is ~4 MB

Levels = tuple[tuple[float, ...], tuple[float, ...]]
RawLevels = tuple[tuple[str, str], ...]


class SnapshotSource:
    """Where a venue's book snapshot comes from."""

    REST = "rest"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Plain facts about one venue's book feed; one row of the capability table."""

    exchange: str
    sequence_rule: SequenceRule
    checksum: str | None  # "KRAKEN", "OKX", "BITFINEX" or None
    snapshot_source: str  # SnapshotSource.REST or SnapshotSource.WEBSOCKET
    max_subscriptions: int | None  # per connection; None where the venue documents no count
    connection_sequence: bool = False  # one number across every channel of a connection
    snapshots_only: bool = False  # every push is a top-N book: published as its differences
    docs: str = ""  # the official documentation page, by name


@dataclass(frozen=True, slots=True)
class VenueUpdate:
    """One parsed book packet plus what sync needs beyond the delta.

    `first_sequence` is Binance's U. `raw_bids`/`raw_asks` keep the venue's original decimal text,
    only for checksum venues: floats lose the trailing zeros the checksum covers. `checksum_only`
    marks a frame that carries nothing but the checksum of the book so far (Bitfinex `cs`): it is
    verified, never published. `diverged` says why the parser knows a row of the instrument was
    lost although the venue numbers nothing (BitMEX: an update of a level id never inserted): it
    counts as a gap and resyncs the instrument.
    """

    delta: BookDelta
    first_sequence: int | None = None
    raw_bids: RawLevels = ()
    raw_asks: RawLevels = ()
    checksum_only: bool = False
    diverged: str = ""


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Everything one frame carried: book updates, the connection-wide sequence if any, and the
    answers the venue demands to keep the socket open (a pong to its ping)."""

    updates: tuple[VenueUpdate, ...] = ()
    connection_sequence: int | None = None
    replies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SocketAddress:
    """Where to connect, from a token endpoint, and how often the client must ping there."""

    url: str
    ping_interval_s: float | None = None  # None: the venue pings, or needs no ping


EMPTY = ParseResult()


@runtime_checkable
class VenueParser(Protocol):
    """What the live shell and the offline readers need from a venue."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def instrument_endpoints(self) -> tuple[str, ...]: ...

    @property
    def token_url(self) -> str | None: ...

    def socket_address(self, token_body: str | bytes, connect_id: str) -> SocketAddress: ...

    def ping_message(self, number: int) -> str: ...

    def read_instruments(self, build: SpecBuilder, body: Any) -> None: ...

    def parse(self, frame: str | bytes, receive_time_us: int) -> ParseResult: ...

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]: ...

    def resubscribe_messages(self, venue_symbol: str) -> list[str]: ...

    def snapshot_url(self, venue_symbol: str) -> str | None: ...

    def snapshot_symbol(self, url: str) -> str | None: ...

    def parse_snapshot(
        self, body: str | bytes, venue_symbol: str, receive_time_us: int
    ) -> VenueUpdate: ...

    def new_checksum_book(self) -> ChecksumBook | None: ...

    def checksum(self, book: ChecksumBook) -> int: ...


class BaseVenueParser:
    """Defaults for the optional hooks; a venue overrides `_parse` and `subscribe_messages`."""

    capabilities: ClassVar[Capabilities]
    endpoint: str = ""
    instrument_endpoints: ClassVar[tuple[str, ...]] = ()  # public REST lists of contract specs
    token_url: ClassVar[str | None] = None  # a REST POST that hands out the socket address

    def socket_address(self, token_body: str | bytes, connect_id: str) -> SocketAddress:
        """The socket to open, from the `token_url` response (venues that have one)."""
        raise ParseError(f"{self.capabilities.exchange}: has no token endpoint")

    def ping_message(self, number: int) -> str:
        """The client ping sent every `SocketAddress.ping_interval_s` (venues that want one)."""
        raise NotImplementedError

    def read_instruments(self, build: SpecBuilder, body: Any) -> None:
        """Add the specs of one instrument-endpoint response to `build` (default: none known)."""

    def parse(self, frame: str | bytes, receive_time_us: int) -> ParseResult:
        """Parse one frame; any malformed content becomes a `ParseError`."""
        message = load_json(frame)
        try:
            return self._parse(message, receive_time_us)
        except ParseError:
            raise
        except (
            KeyError,
            IndexError,
            TypeError,
            ValueError,
            AttributeError,
            OverflowError,
            RecursionError,  # a hostile nesting depth
        ) as error:
            name = self.capabilities.exchange
            raise ParseError(f"{name}: malformed frame ({type(error).__name__}: {error})") from None

    def _parse(self, message: Any, receive_time_us: int) -> ParseResult:
        raise NotImplementedError

    def normalise(self, venue_symbol: str) -> str:
        """The symbol in the normalised form (default: as the venue sends it, upper case)."""
        return venue_symbol.upper()

    def book_delta(
        self,
        venue_symbol: str,
        bids: Levels,
        asks: Levels,
        *,
        is_snapshot: bool,
        event_time: int,
        receive_time: int,
        **numbers: int | None,
    ) -> BookDelta:
        """A validated delta of this venue, named by `normalise`; `numbers` are its `sequence`,
        `prev_sequence` and `checksum`, where it has them."""
        return make_delta(
            exchange=self.capabilities.exchange,
            symbol=self.normalise(venue_symbol),
            venue_symbol=venue_symbol,
            event_time=event_time,
            receive_time=receive_time,
            is_snapshot=is_snapshot,
            bid_prices=bids[0],
            bid_sizes=bids[1],
            ask_prices=asks[0],
            ask_sizes=asks[1],
            **numbers,
        )

    def subscribe_messages(self, venue_symbols: Sequence[str]) -> list[str]:
        raise NotImplementedError

    def resubscribe_messages(self, venue_symbol: str) -> list[str]:
        """Messages that make the venue send a fresh snapshot (default: subscribe again)."""
        return self.subscribe_messages([venue_symbol])

    def snapshot_url(self, venue_symbol: str) -> str | None:
        return None

    def snapshot_symbol(self, url: str) -> str | None:
        return None

    def parse_snapshot(
        self, body: str | bytes, venue_symbol: str, receive_time_us: int
    ) -> VenueUpdate:
        raise ParseError(f"{self.capabilities.exchange}: has no REST snapshot")

    def new_checksum_book(self) -> ChecksumBook | None:
        return None

    def checksum(self, book: ChecksumBook) -> int:
        raise NotImplementedError


def load_json(frame: str | bytes) -> Any:
    """Decode a frame, refusing oversized ones before `json` spends memory on them."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ParseError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        return json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # 2 KB of `[` recurses
        raise ParseError(f"not JSON: {type(error).__name__}: {error}") from None


def parse_levels(levels: Iterable[Sequence[Any]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Turn `[[price, size, ...], ...]` (text or numbers) into parallel float tuples."""
    prices: list[float] = []
    sizes: list[float] = []
    for level in levels:
        prices.append(float(level[0]))
        sizes.append(float(level[1]))
    return tuple(prices), tuple(sizes)


def raw_levels(levels: Iterable[Sequence[Any]]) -> RawLevels:
    """Keep the venue's original price and size text (checksum venues only)."""
    return tuple((_text(level[0]), _text(level[1])) for level in levels)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ParseError(f"expected decimal text, got {value!r}")
    return value


def make_delta(**fields: Any) -> BookDelta:
    """Build and validate a delta; an invalid level or an out-of-range number is a `ParseError`.

    `BookDelta.validate` also bounds the times and the 64-bit sequence numbers (the Avro longs).
    """
    try:
        return BookDelta(**fields).validate()
    except InvalidDeltaError as error:
        raise ParseError(str(error)) from None


def seconds_text_to_micros(text: str) -> int:
    """Convert epoch seconds written as decimal text ("1618678133.365913") exactly to µs."""
    whole, _, fraction = text.partition(".")
    return int(whole) * 1_000_000 + int((fraction + "000000")[:6])


@lru_cache(maxsize=4096)
def _second_to_micros(prefix: str) -> int:
    moment = datetime.fromisoformat(prefix).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000


def iso_to_micros(text: str) -> int:
    """Convert an ISO-8601 UTC time with up to nanoseconds ("...T21:05:48.228568804Z") to µs.

    The whole-second part is cached: consecutive messages share it, and `fromisoformat` is the
    slow step.
    """
    body = text.rstrip("Z")
    prefix, _, fraction = body.partition(".")
    if len(prefix) == 10:  # a date without a time
        prefix += "T00:00:00"
    return _second_to_micros(prefix) + int((fraction + "000000")[:6] or 0)
