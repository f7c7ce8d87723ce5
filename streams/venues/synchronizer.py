"""Turn one connection's frames into the deltas to publish, with per-instrument sync and checksums.

The live connector shell and the offline readers both use `BookSynchronizer`, so a recording
replays through exactly the code that runs live. Per instrument it keeps the core sequence state
(`core.sync.InstrumentSync`) and, on checksum venues, a text book to verify the venue's checksum.
It performs no I/O: resyncs come back as `ResyncRequest`s for the shell to carry out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from streams.core.sync import (
    Action,
    ConnectionSequence,
    InstrumentSync,
    SequenceNumbers,
    Step,
    SyncCounters,
)
from streams.core.types import BookDelta
from streams.venues.base import SnapshotSource, VenueParser, VenueUpdate
from streams.venues.checksum import ChecksumBook

__all__ = ["BookSynchronizer", "ResyncRequest", "SyncOutput", "SynchronizerCounters"]


@dataclass(frozen=True, slots=True)
class ResyncRequest:
    """Ask the shell for a fresh snapshot: fetch `snapshot_url`, or send `messages`."""

    instrument: str
    venue_symbol: str
    reason: str
    snapshot_url: str | None
    messages: tuple[str, ...]


@dataclass(slots=True)
class SyncOutput:
    """What one frame produced: deltas to publish, in order, and resyncs to start."""

    deltas: list[BookDelta] = field(default_factory=list)
    resyncs: list[ResyncRequest] = field(default_factory=list)


@dataclass(slots=True)
class SynchronizerCounters:
    """Connection-wide totals (per-instrument counts are in `instrument_counters`)."""

    frames: int = 0
    published: int = 0
    checksums_verified: int = 0
    connection_gaps: int = 0


@dataclass(slots=True)
class _Instrument:
    sync: InstrumentSync[VenueUpdate]
    checksum_book: ChecksumBook | None
    venue_symbol: str
    last_published: int | None = None


class BookSynchronizer:
    """Sync every instrument of one connection to one venue."""

    def __init__(self, parser: VenueParser) -> None:
        self.parser = parser
        self.counters = SynchronizerCounters()
        self._instruments: dict[str, _Instrument] = {}
        self._connection = ConnectionSequence()

    def instrument_counters(self) -> dict[str, SyncCounters]:
        """Gaps, resyncs and checksum failures per instrument id, sorted by instrument."""
        return {key: self._instruments[key].sync.counters for key in sorted(self._instruments)}

    def total(self, name: str) -> int:
        """Sum one `SyncCounters` field over every instrument (e.g. "gaps", "resyncs")."""
        return sum(getattr(state.sync.counters, name) for state in self._instruments.values())

    def on_frame(self, frame: str | bytes, receive_time_us: int) -> SyncOutput:
        """Parse one websocket frame and sync what it carries; `ParseError` propagates."""
        result = self.parser.parse(frame, receive_time_us)
        self.counters.frames += 1
        output = SyncOutput()
        if result.connection_sequence is not None and self._connection.observe(
            result.connection_sequence
        ):
            self.counters.connection_gaps += 1
            self._resync_all("connection sequence gap", output)
        for update in result.updates:
            self._on_update(update, output)
        return output

    def on_snapshot(self, body: str | bytes, venue_symbol: str, receive_time_us: int) -> SyncOutput:
        """Feed a REST snapshot response for `venue_symbol`."""
        output = SyncOutput()
        self._on_update(self.parser.parse_snapshot(body, venue_symbol, receive_time_us), output)
        return output

    def resync_all(self, reason: str) -> SyncOutput:
        """Resync every instrument, e.g. when the shell's watchdog finds the connection stale."""
        output = SyncOutput()
        self._connection.reset()
        self._resync_all(reason, output)
        return output

    def _resync_all(self, reason: str, output: SyncOutput) -> None:
        for key in sorted(self._instruments):
            self._carry_out(
                self._instruments[key],
                key,
                self._instruments[key].sync.request_resync(reason),
                output,
            )

    def _state(self, delta: BookDelta) -> _Instrument:
        key = delta.instrument
        state = self._instruments.get(key)
        if state is None:
            capabilities = self.parser.capabilities
            sync: InstrumentSync[VenueUpdate] = InstrumentSync(
                capabilities.sequence_rule,
                buffer_until_snapshot=capabilities.snapshot_source == SnapshotSource.REST,
            )
            state = _Instrument(sync, self.parser.new_checksum_book(), delta.venue_symbol)
            self._instruments[key] = state
        return state

    def _on_update(self, update: VenueUpdate, output: SyncOutput) -> None:
        delta = update.delta
        state = self._state(delta)
        if delta.is_snapshot:
            steps = state.sync.on_snapshot(update, delta.sequence)
        else:
            numbers = SequenceNumbers(update.first_sequence, delta.sequence, delta.prev_sequence)
            steps = state.sync.on_delta(update, numbers)
        self._carry_out(state, delta.instrument, steps, output)

    def _carry_out(
        self, state: _Instrument, key: str, steps: list[Step[VenueUpdate]], output: SyncOutput
    ) -> None:
        for step in steps:
            if step.action is Action.EMIT and step.item is not None:
                self._publish(state, key, step.item, output)
            elif step.action is Action.RESYNC:
                output.resyncs.append(self._request(state, key, step.reason))

    def _publish(
        self, state: _Instrument, key: str, update: VenueUpdate, output: SyncOutput
    ) -> None:
        delta = update.delta
        if not state.sync.synced:
            return  # an earlier step of this batch already failed and asked for a resync
        book = state.checksum_book
        if book is not None:
            book.apply(update.raw_bids, update.raw_asks, is_snapshot=delta.is_snapshot)
            if delta.checksum is not None:
                computed = self.parser.checksum(book)
                if computed != delta.checksum:
                    detail = f"{key}: venue {delta.checksum}, book {computed}"
                    self._carry_out(state, key, state.sync.on_checksum_mismatch(detail), output)
                    return
                self.counters.checksums_verified += 1
        # Chain published packets so a consumer can check continuity without venue rules.
        previous = None if delta.is_snapshot else state.last_published
        if delta.prev_sequence != previous:
            delta = dataclasses.replace(delta, prev_sequence=previous)
        state.last_published = delta.sequence
        self.counters.published += 1
        output.deltas.append(delta)

    def _request(self, state: _Instrument, key: str, reason: str) -> ResyncRequest:
        state.last_published = None
        symbol = state.venue_symbol
        return ResyncRequest(
            instrument=key,
            venue_symbol=symbol,
            reason=reason,
            snapshot_url=self.parser.snapshot_url(symbol),
            messages=tuple(self.parser.resubscribe_messages(symbol)),
        )
