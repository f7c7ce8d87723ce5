"""Snapshot, buffer, bridge, gap and resync state machine, driven by a venue's sequence rule.

Pure: it only sees sequence numbers and opaque items, and answers with actions (emit, drop stale,
buffer, resync) that the connector shell carries out. One `InstrumentSync` per instrument, so a
gap resyncs that one instrument, never the whole connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

__all__ = [
    "Action",
    "ConnectionSequence",
    "InstrumentSync",
    "SequenceNumbers",
    "SequenceRule",
    "Step",
    "SyncCounters",
]

T = TypeVar("T")


class SequenceRule(StrEnum):
    """How a venue numbers the packets of one instrument's book."""

    BINANCE_SPOT = "binance_spot"  # bridge U <= lastUpdateId+1 <= u, then U == previous u + 1
    BINANCE_FUTURES = "binance_futures"  # bridge U <= lastUpdateId <= u, then pu == previous u
    CONTIGUOUS = "contiguous"  # sequence == previous sequence + 1
    CHAIN = "chain"  # prev_sequence == previous sequence
    MONOTONIC = "monotonic"  # only rises (a time stamp): at or below the last is stale, never a gap
    NONE = "none"  # no numbers: only checksums or nothing protect the book


class Action(StrEnum):
    """What the shell must do with one item."""

    EMIT = "emit"
    DROP_STALE = "drop_stale"
    BUFFER = "buffer"
    DROP_UNSYNCED = "drop_unsynced"
    RESYNC = "resync"


class _Verdict(StrEnum):
    ACCEPT = "accept"
    STALE = "stale"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class SequenceNumbers:
    """The numbers a packet carries.

    `first` is Binance U, `last` is u or seq, `previous` is Binance pu or a chain's prev id.
    """

    first: int | None = None
    last: int | None = None
    previous: int | None = None


@dataclass(frozen=True, slots=True)
class Step(Generic[T]):
    """One decision: an action and the item it applies to (None for RESYNC)."""

    action: Action
    item: T | None = None
    reason: str = ""


@dataclass(slots=True)
class SyncCounters:
    """Running counts for one instrument; the shell exports them as metrics."""

    gaps: int = 0
    resyncs: int = 0
    checksum_failures: int = 0
    stale_drops: int = 0
    unsynced_drops: int = 0
    buffer_overflows: int = 0


class InstrumentSync(Generic[T]):
    """Sequence state of one instrument's book.

    `buffer_until_snapshot` is for venues whose snapshot comes from REST (Binance): deltas that
    arrive before it are kept and replayed through the bridge rule. Venues that send the snapshot
    on the websocket drop such deltas, since the coming snapshot already contains them.
    """

    __slots__ = (
        "_bridged",
        "_buffer",
        "_last",
        "_synced",
        "buffer_until_snapshot",
        "counters",
        "max_buffer",
        "rule",
    )

    def __init__(
        self, rule: SequenceRule, *, buffer_until_snapshot: bool = False, max_buffer: int = 10_000
    ) -> None:
        self.rule = rule
        self.buffer_until_snapshot = buffer_until_snapshot
        self.max_buffer = max_buffer
        self.counters = SyncCounters()
        self._synced = False
        self._bridged = False
        self._last: int | None = None
        self._buffer: list[tuple[T, SequenceNumbers]] = []

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def last_sequence(self) -> int | None:
        return self._last

    def on_snapshot(self, item: T, sequence: int | None) -> list[Step[T]]:
        """Reset to a snapshot, then replay buffered deltas through the bridge rule."""
        self._synced = True
        self._bridged = self.rule not in (SequenceRule.BINANCE_SPOT, SequenceRule.BINANCE_FUTURES)
        self._last = sequence
        steps: list[Step[T]] = [Step(Action.EMIT, item, "snapshot")]
        buffered, self._buffer = self._buffer, []
        for buffered_item, numbers in buffered:
            steps.extend(self.on_delta(buffered_item, numbers))
        return steps

    def on_delta(self, item: T, numbers: SequenceNumbers) -> list[Step[T]]:
        """Decide what to do with one delta."""
        if not self._synced:
            return [self._hold(item, numbers)]
        verdict = self._check(numbers)
        if verdict is _Verdict.ACCEPT:
            if numbers.last is not None:
                self._last = numbers.last
            return [Step(Action.EMIT, item)]
        if verdict is _Verdict.STALE:
            self.counters.stale_drops += 1
            return [Step(Action.DROP_STALE, item)]
        self.counters.gaps += 1
        reason = f"sequence gap after {self._last}: got {numbers}"
        steps = self._resync(reason)
        if self.buffer_until_snapshot:
            self._buffer.append((item, numbers))
        return steps

    def on_checksum_mismatch(self, detail: str = "") -> list[Step[T]]:
        """The book no longer matches the venue's checksum: resync."""
        self.counters.checksum_failures += 1
        return self._resync(f"checksum mismatch {detail}".strip())

    def request_resync(self, reason: str) -> list[Step[T]]:
        """Resync on an outside cause (stale connection, connection-wide gap)."""
        if not self._synced:
            return []
        return self._resync(reason)

    def _resync(self, reason: str) -> list[Step[T]]:
        self.counters.resyncs += 1
        self._synced = False
        self._bridged = False
        self._last = None
        self._buffer = []
        return [Step(Action.RESYNC, None, reason)]

    def _hold(self, item: T, numbers: SequenceNumbers) -> Step[T]:
        if not self.buffer_until_snapshot:
            self.counters.unsynced_drops += 1
            return Step(Action.DROP_UNSYNCED, item)
        if len(self._buffer) >= self.max_buffer:
            # The snapshot is late; keeping the newest deltas is the only way a bridge can exist.
            self.counters.buffer_overflows += 1
            del self._buffer[0]
        self._buffer.append((item, numbers))
        return Step(Action.BUFFER, item)

    def _check(self, numbers: SequenceNumbers) -> _Verdict:
        last = self._last
        if self.rule is SequenceRule.NONE or numbers.last is None or last is None:
            return _Verdict.ACCEPT
        if self.rule is SequenceRule.BINANCE_SPOT:
            return self._check_binance_spot(numbers, last)
        if self.rule is SequenceRule.BINANCE_FUTURES:
            return self._check_binance_futures(numbers, last)
        if self.rule is SequenceRule.CONTIGUOUS:
            if numbers.last == last + 1:
                return _Verdict.ACCEPT
            return _Verdict.STALE if numbers.last <= last else _Verdict.GAP
        if self.rule is SequenceRule.MONOTONIC:
            return _Verdict.ACCEPT if numbers.last > last else _Verdict.STALE
        # CHAIN: a packet without a previous number (a re-sent snapshot) starts a new chain.
        if numbers.previous is None or numbers.previous == last:
            return _Verdict.ACCEPT
        return _Verdict.STALE if numbers.last <= last else _Verdict.GAP

    def _check_binance_spot(self, numbers: SequenceNumbers, last: int) -> _Verdict:
        assert numbers.last is not None  # checked by the caller
        if numbers.last <= last:
            return _Verdict.STALE
        first = numbers.first if numbers.first is not None else numbers.last
        if self._bridged:
            return _Verdict.ACCEPT if first == last + 1 else _Verdict.GAP
        if first <= last + 1 <= numbers.last:
            self._bridged = True
            return _Verdict.ACCEPT
        return _Verdict.GAP

    def _check_binance_futures(self, numbers: SequenceNumbers, last: int) -> _Verdict:
        assert numbers.last is not None  # checked by the caller
        if self._bridged:
            if numbers.previous == last:
                return _Verdict.ACCEPT
            return _Verdict.STALE if numbers.last <= last else _Verdict.GAP
        if numbers.last < last:
            return _Verdict.STALE
        first = numbers.first if numbers.first is not None else numbers.last
        if first <= last <= numbers.last:
            self._bridged = True
            return _Verdict.ACCEPT
        return _Verdict.GAP


class ConnectionSequence:
    """A sequence number shared by every channel of one connection (Coinbase, Bitfinex).

    A gap here means any instrument on the connection may have missed a packet.
    """

    __slots__ = ("_last", "gaps")

    def __init__(self) -> None:
        self._last: int | None = None
        self.gaps = 0

    def observe(self, sequence: int) -> bool:
        """Record one number; return True when numbers were skipped since the previous one."""
        last, self._last = self._last, sequence
        if last is None or sequence == last + 1:
            return False
        if sequence <= last:
            self._last = last  # a replayed or out-of-order number; keep the high-water mark
            return False
        self.gaps += 1
        return True

    def reset(self) -> None:
        """Forget the last number (a new connection starts a new count)."""
        self._last = None
