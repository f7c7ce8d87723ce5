"""Turn one connection's frames into the deltas to publish, with per-instrument sync and checksums.

The live connector shell and the offline readers both use `BookSynchronizer`, so a recording
replays through exactly the code that runs live. Per instrument it keeps the core sequence state
(`core.sync.InstrumentSync`) and, on checksum venues, a text book to verify the venue's checksum.
It performs no I/O: resyncs come back as `ResyncRequest`s for the shell to carry out.
On snapshot-only venues (every push a top-N book: Hyperliquid, Huobi, Crypto.com) the first
snapshot is published as one and each later one as its difference from the previous
(`difference`): downstream sees the same snapshot-then-deltas stream as from any venue.
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

__all__ = [
    "BookSynchronizer",
    "ResyncRequest",
    "SyncOutput",
    "SynchronizerCounters",
    "difference",
]

Side = dict[float, float]


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
    """What one frame produced: deltas to publish, in order, resyncs to start, and the answers
    to send back on the socket (heartbeat replies)."""

    deltas: list[BookDelta] = field(default_factory=list)
    resyncs: list[ResyncRequest] = field(default_factory=list)
    replies: tuple[str, ...] = ()


@dataclass(slots=True)
class SynchronizerCounters:
    """Connection-wide totals (per-instrument counts are in `instrument_counters`)."""

    frames: int = 0
    published: int = 0
    checksums_verified: int = 0
    connection_gaps: int = 0
    unchanged_snapshots: int = 0  # snapshot-only venues: a push equal to the previous book


@dataclass(slots=True)
class _Instrument:
    sync: InstrumentSync[VenueUpdate]
    checksum_book: ChecksumBook | None
    venue_symbol: str
    last_published: int | None = None
    top: tuple[Side, Side] | None = None  # snapshot-only venues: the last pushed book


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
        output = SyncOutput(replies=result.replies)
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
        state = self._state(update.delta)
        if update.delta.is_snapshot and self.parser.capabilities.snapshots_only:
            differenced = self._difference(state, update)
            if differenced is None:
                self.counters.unchanged_snapshots += 1
                return
            update = differenced
        delta = update.delta
        if update.diverged and state.sync.synced:
            state.sync.counters.gaps += 1  # a loss the parser saw where no number could show it
            steps = state.sync.request_resync(f"{delta.instrument}: {update.diverged}")
        elif delta.is_snapshot:
            steps = state.sync.on_snapshot(update, delta.sequence)
        else:
            numbers = SequenceNumbers(update.first_sequence, delta.sequence, delta.prev_sequence)
            steps = state.sync.on_delta(update, numbers)
        self._carry_out(state, delta.instrument, steps, output)

    def _difference(self, state: _Instrument, update: VenueUpdate) -> VenueUpdate | None:
        """The push as a delta from the previous one; the first after a (re)sync stays whole."""
        delta = update.delta
        current = (dict(zip(delta.bid_prices, delta.bid_sizes, strict=True)),
                   dict(zip(delta.ask_prices, delta.ask_sizes, strict=True)))  # fmt: skip
        previous, state.top = state.top, current
        if previous is None or not state.sync.synced:
            return update
        bid_prices, bid_sizes = difference(previous[0], current[0])
        ask_prices, ask_sizes = difference(previous[1], current[1])
        if not bid_prices and not ask_prices:
            return None
        return VenueUpdate(dataclasses.replace(
            delta, is_snapshot=False, bid_prices=bid_prices, bid_sizes=bid_sizes,
            ask_prices=ask_prices, ask_sizes=ask_sizes,
        ))  # fmt: skip

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
        if update.checksum_only:
            return  # it carries no level: nothing to publish
        # Chain published packets so a consumer can check continuity without venue rules.
        previous = None if delta.is_snapshot else state.last_published
        if delta.prev_sequence != previous:
            delta = dataclasses.replace(delta, prev_sequence=previous)
        state.last_published = delta.sequence
        self.counters.published += 1
        output.deltas.append(delta)

    def _request(self, state: _Instrument, key: str, reason: str) -> ResyncRequest:
        state.last_published = None
        state.top = None
        symbol = state.venue_symbol
        return ResyncRequest(
            instrument=key,
            venue_symbol=symbol,
            reason=reason,
            snapshot_url=self.parser.snapshot_url(symbol),
            messages=tuple(self.parser.resubscribe_messages(symbol)),
        )


def difference(previous: Side, current: Side) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Levels of one side that changed from `previous` to `current` (price -> size), as prices
    and sizes: new or resized levels in `current`'s order, then the levels that left, at size 0
    (on a top-N feed a level that falls out of the top reads as removed)."""
    prices = [price for price, size in current.items() if previous.get(price) != size]
    sizes = [current[price] for price in prices]
    for price in previous:
        if price not in current:
            prices.append(price)
            sizes.append(0.0)
    return tuple(prices), tuple(sizes)
