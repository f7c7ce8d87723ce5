"""tardis.dev `incremental_book_L2` CSV files (plain or .gz) as book deltas.

Columns: exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount (times in µs).
Consecutive rows of one instrument with the same `timestamp` and `local_timestamp` form one update
event. A snapshot group that follows non-snapshot rows of its instrument resets the book; snapshot
groups that follow each other continue one snapshot. A malformed row stops the read with its line
number: a silently skipped level would corrupt every metric after it.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from streams.core.exceptions import InvalidDeltaError
from streams.core.types import BookDelta, SourcePosition
from streams.exceptions import StreamsError
from streams.sources.text import first_undecodable_line

__all__ = ["TARDIS_COLUMNS", "TardisFormatError", "read_tardis", "write_tardis"]

TARDIS_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "is_snapshot",
    "side",
    "price",
    "amount",
)


class TardisFormatError(StreamsError):
    """A tardis CSV file that breaks the format, with the line that does."""


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def read_tardis(path: str | Path) -> Iterator[tuple[BookDelta, SourcePosition]]:
    """Yield one `BookDelta` per update event, positions numbered from 0 in file order."""
    source = Path(path)
    topic = source.name
    ordinal = 0
    with _open(source) as handle:
        rows = _rows(source, handle)
        _, header = next(rows, (1, None))
        if header is None or tuple(h.strip() for h in header[:8]) != TARDIS_COLUMNS:
            raise TardisFormatError(
                f"{source}:1: header must start with {','.join(TARDIS_COLUMNS)}"
            )
        group_key: tuple[str, str, str, str] | None = None
        group: _Group | None = None
        in_snapshot: dict[str, bool] = {}
        for line, row in rows:
            if not row:
                continue
            exchange, symbol, timestamp, local_timestamp, snapshot, side, price, amount = _fields(
                source, line, row
            )
            key = (exchange, symbol, timestamp, local_timestamp)
            if group is None or key != group_key or snapshot != group.is_snapshot:
                if group is not None:
                    yield group.delta(in_snapshot), SourcePosition(topic, 0, ordinal)
                    ordinal += 1
                group_key = key
                group = _Group(source, line, exchange, symbol, timestamp, local_timestamp, snapshot)
            group.add(source, line, side, price, amount)
        if group is not None:
            yield group.delta(in_snapshot), SourcePosition(topic, 0, ordinal)


def _rows(source: Path, handle: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on; a broken file is a `TardisFormatError`."""
    # strict: an unterminated quote is an error at its line, not the rest of the file in one field
    rows = csv.reader(handle, strict=True)
    while True:
        line = rows.line_num + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            if "end of data" in str(error):
                raise TardisFormatError(
                    f"{source}:{line}: unterminated quote (the record runs to the end of the file)"
                ) from None
            if "field limit" in str(error):
                raise TardisFormatError(
                    f"{source}:{line}: a field longer than {csv.field_size_limit()} characters "
                    "(an unterminated quote, or not a tardis file)"
                ) from None
            raise TardisFormatError(f"{source}:{line}: {error}") from None
        except UnicodeDecodeError as error:
            bad = error.object[error.start]
            raise TardisFormatError(
                f"{source}:{_undecodable_line(source)}: not UTF-8 text (byte 0x{bad:02x})"
            ) from None
        except EOFError:
            raise TardisFormatError(
                f"{source}: truncated gzip file (after line {line - 1})"
            ) from None
        except (zlib.error, gzip.BadGzipFile) as error:
            raise TardisFormatError(
                f"{source}: corrupt gzip file near line {line}: {error}"
            ) from None
        yield line, row


def _undecodable_line(source: Path) -> int:
    with gzip.open(source, "rb") if source.suffix == ".gz" else source.open("rb") as raw:
        return first_undecodable_line(raw)


def _fields(
    source: Path, line: int, row: list[str]
) -> tuple[str, str, str, str, bool, str, str, str]:
    if len(row) != len(TARDIS_COLUMNS):
        raise TardisFormatError(
            f"{source}:{line}: expected {len(TARDIS_COLUMNS)} columns, got {len(row)}"
        )
    exchange, symbol, timestamp, local_timestamp, snapshot, side, price, amount = row
    if snapshot not in ("true", "false"):
        raise TardisFormatError(
            f"{source}:{line}: is_snapshot must be true or false, got {snapshot!r}"
        )
    if side not in ("bid", "ask"):
        raise TardisFormatError(f"{source}:{line}: side must be bid or ask, got {side!r}")
    if not exchange or not symbol:
        raise TardisFormatError(f"{source}:{line}: empty exchange or symbol")
    return exchange, symbol, timestamp, local_timestamp, snapshot == "true", side, price, amount


class _Group:
    __slots__ = (
        "ask_prices", "ask_sizes", "bid_prices", "bid_sizes", "event_time", "exchange",
        "is_snapshot", "line", "receive_time", "source", "symbol",
    )  # fmt: skip

    def __init__(
        self, source: Path, line: int, exchange: str, symbol: str, timestamp: str,
        local_timestamp: str, is_snapshot: bool,
    ) -> None:  # fmt: skip
        try:
            self.event_time = int(timestamp)
            self.receive_time = int(local_timestamp)
        except ValueError:
            raise TardisFormatError(
                f"{source}:{line}: timestamps must be integer microseconds, got {timestamp!r}, "
                f"{local_timestamp!r}"
            ) from None
        self.source, self.line = source, line
        self.exchange = exchange
        self.symbol = symbol
        self.is_snapshot = is_snapshot
        self.bid_prices: list[float] = []
        self.bid_sizes: list[float] = []
        self.ask_prices: list[float] = []
        self.ask_sizes: list[float] = []

    def add(self, source: Path, line: int, side: str, price: str, amount: str) -> None:
        try:
            p, q = float(price), float(amount)
        except ValueError:
            raise TardisFormatError(
                f"{source}:{line}: price {price!r} or amount {amount!r} is not a number"
            ) from None
        if not (0.0 < p < float("inf")) or not (0.0 <= q < float("inf")):
            raise TardisFormatError(
                f"{source}:{line}: price must be > 0 and amount >= 0, got {price}, {amount}"
            )
        if side == "bid":
            self.bid_prices.append(p)
            self.bid_sizes.append(q)
        else:
            self.ask_prices.append(p)
            self.ask_sizes.append(q)

    def delta(self, in_snapshot: dict[str, bool]) -> BookDelta:
        instrument = f"{self.exchange}:{self.symbol}"
        resets = self.is_snapshot and not in_snapshot.get(instrument, False)
        in_snapshot[instrument] = self.is_snapshot
        delta = BookDelta(
            exchange=self.exchange.upper(),
            symbol=self.symbol.upper(),
            venue_symbol=self.symbol,
            event_time=self.event_time,
            receive_time=self.receive_time,
            is_snapshot=resets,
            bid_prices=tuple(self.bid_prices),
            bid_sizes=tuple(self.bid_sizes),
            ask_prices=tuple(self.ask_prices),
            ask_sizes=tuple(self.ask_sizes),
        )
        try:
            return delta.validate()  # times beyond 64 bits or 9999, absurd prices, odd ids
        except InvalidDeltaError as error:
            raise TardisFormatError(f"{self.source}:{self.line}: {error}") from None


def write_tardis(deltas: Iterator[BookDelta] | list[BookDelta], handle: IO[str]) -> int:
    """Write deltas as tardis CSV rows (fixtures, demo data); return the number of rows."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(TARDIS_COLUMNS)
    rows = 0
    for delta in deltas:
        flag = "true" if delta.is_snapshot else "false"
        common = [delta.exchange.lower(), delta.symbol, delta.event_time, delta.receive_time, flag]
        for side, prices, sizes in (
            ("bid", delta.bid_prices, delta.bid_sizes),
            ("ask", delta.ask_prices, delta.ask_sizes),
        ):
            for price, size in zip(prices, sizes, strict=True):
                writer.writerow([*common, side, repr(price), repr(size)])
                rows += 1
    return rows
