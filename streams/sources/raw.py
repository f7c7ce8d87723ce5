"""Read raw venue payload files and cryptofeed recordings into published book deltas.

Both go through the venue parser and `BookSynchronizer` the live connector uses, so an offline
run applies the same sequence, bridge and checksum rules. This module imports the connector
layer on purpose: the parsers are the single definition of each venue's wire format.

Raw payload files (one venue message per line, e.g. Bybit's historical order-book dumps) carry
no local receive time: `receive_time` is set to the venue's `event_time`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.core.types import BookDelta, SourcePosition
from streams.sources.recording import (
    CONNECT,
    HTTP,
    RECV,
    RecordedEvent,
    is_recording,
    read_recording_set,
)
from streams.venues.exceptions import ParseError
from streams.venues.registry import get_venue
from streams.venues.synchronizer import BookSynchronizer, SyncOutput

__all__ = ["DeltaReader", "ReadCounters", "Rejects", "read_raw", "venue_from_recording"]

_EXAMPLES = 5


@dataclass(slots=True)
class Rejects:
    """Input frames a read refused (malformed): how many, and where the first few were."""

    count: int = 0
    examples: list[str] = dataclasses.field(default_factory=list)

    def add(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(f"{where}: {reason}")


@dataclass(slots=True)
class ReadCounters:
    """What a file read produced; parse errors are counted, never raised."""

    frames: int = 0
    deltas: int = 0
    parse_errors: int = 0
    resync_requests: int = 0
    snapshots_applied: int = 0


def venue_from_recording(path: str | Path) -> str:
    """`KRAKEN.ws.50.0` -> `KRAKEN`, `COINBASE.jsonl.zst` -> `COINBASE`."""
    name = Path(path).name
    return name.split(".jsonl")[0] if name.endswith(".jsonl.zst") else name.split(".")[0]


class DeltaReader:
    """Iterate (delta, position) over one file; keeps counters and synchronizers for inspection."""

    def __init__(
        self, venue: str | None, path: str | Path, *, endpoint: str = "",
        rejects: Rejects | None = None,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self.rejects = rejects if rejects is not None else Rejects()
        self.venue = (venue or venue_from_recording(self.path)).upper()
        self.endpoint = endpoint
        self.counters = ReadCounters()
        self.synchronizers: dict[str, BookSynchronizer] = {}
        self._topic = f"file:{path}"
        self._offset = 0

    def __iter__(self) -> Iterator[tuple[BookDelta, SourcePosition]]:
        if is_recording(self.path):
            return self._positions(self._recording(read_recording_set(self.path)))
        return self._positions(self._payload_lines())

    def replay(self, events: Iterable[RecordedEvent]) -> Iterator[tuple[BookDelta, SourcePosition]]:
        """Run recorded events (e.g. with one frame removed) through the same path."""
        return self._positions(self._recording(events))

    def _positions(self, deltas: Iterator[BookDelta]) -> Iterator[tuple[BookDelta, SourcePosition]]:
        for delta in deltas:
            position = SourcePosition(topic=self._topic, partition=0, offset=self._offset)
            self._offset += 1
            self.counters.deltas += 1
            yield delta, position

    def _synchronizer(self, connection: str, address: str = "") -> BookSynchronizer:
        synchronizer = self.synchronizers.get(connection)
        if synchronizer is None:
            synchronizer = BookSynchronizer(get_venue(self.venue, address or self.endpoint))
            self.synchronizers[connection] = synchronizer
        return synchronizer

    def _payload_lines(self) -> Iterator[BookDelta]:
        synchronizer = self._synchronizer("file")
        with self.path.open("r", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    for delta in self._frame(synchronizer, line, 0, f"line {number}"):
                        yield dataclasses.replace(delta, receive_time=delta.event_time)

    def _recording(self, events: Iterable[RecordedEvent]) -> Iterator[BookDelta]:
        latest = ""
        for event in events:
            if event.kind == CONNECT:
                latest = event.connection
                self.synchronizers.pop(event.connection, None)  # a new connection starts clean
                self._synchronizer(event.connection, event.address)
            elif event.kind == RECV:
                yield from self._frame(
                    self._synchronizer(event.connection), event.data, event.time_us,
                    f"frame at {event.time_us} us",
                )  # fmt: skip
            elif event.kind == HTTP and latest:
                yield from self._snapshot(self._synchronizer(latest), event)

    def _frame(
        self, synchronizer: BookSynchronizer, frame: str | bytes, time_us: int, where: str
    ) -> list[BookDelta]:
        self.counters.frames += 1
        try:
            output = synchronizer.on_frame(frame, time_us)
        except ParseError as error:
            self.counters.parse_errors += 1
            self.rejects.add(f"{self.path}: {where}", str(error))
            return []
        return self._collect(output)

    def _snapshot(self, synchronizer: BookSynchronizer, event: RecordedEvent) -> list[BookDelta]:
        venue_symbol = synchronizer.parser.snapshot_symbol(event.address)
        if venue_symbol is None:
            return []  # instrument listings and other REST calls
        try:
            output = synchronizer.on_snapshot(event.data, venue_symbol, event.time_us)
        except ParseError as error:
            self.counters.parse_errors += 1
            self.rejects.add(f"{self.path}: snapshot {event.address}", str(error))
            return []
        self.counters.snapshots_applied += 1
        return self._collect(output)

    def _collect(self, output: SyncOutput) -> list[BookDelta]:
        self.counters.resync_requests += len(output.resyncs)
        return output.deltas


def read_raw(
    venue: str | None, path: str | Path, *, endpoint: str = "", rejects: Rejects | None = None
) -> Iterator[tuple[BookDelta, SourcePosition]]:
    """Yield (delta, position) from a raw payload file or a cryptofeed recording.

    `venue` may be None for recordings (taken from the file name). `endpoint` sets the market
    for venues that need it (Bybit: `.../v5/public/spot`) when the file does not record it.
    """
    return iter(DeltaReader(venue, path, endpoint=endpoint, rejects=rejects))
