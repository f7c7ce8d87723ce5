"""The one function chain every shell runs: delta -> book -> metrics -> breaker.

`streams compute`, the Faust workers and the audit replay all call `Pipeline.process`, so for the
same input in the same order they produce the same records, bit for bit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.core.book import Book
from streams.core.breaker import BreakerConfig, BreakerEngine
from streams.core.config import MetricsConfig
from streams.core.exceptions import InvalidDeltaError
from streams.core.metrics import Identity, imbalance_record
from streams.core.metrics_state import MetricState
from streams.core.pipeline_config import PipelineConfig
from streams.core.types import BookDelta, SourcePosition

__all__ = ["DROP_REASONS", "Pipeline", "PipelineCounters", "PipelineOutput", "record_id"]

_STATE_VERSION = 1


def record_id(position: SourcePosition) -> str:
    """Identity of an output record: the input record it was computed from."""
    return f"{position.topic}/{position.partition}/{position.offset}"


@dataclass(frozen=True, slots=True)
class PipelineOutput:
    """What one input delta produced: at most one imbalance record and any suggestions.

    `dropped` names why a delta produced nothing on purpose (one of DROP_REASONS), so that every
    input is accounted for: an output, a dead letter (an error) or a drop with a reason.
    """

    imbalance: dict[str, Any] | None
    suggestions: list[dict[str, Any]]
    dropped: str | None = None


@dataclass(slots=True)
class PipelineCounters:
    """Counts of what the book had to reject or repair (exported as metrics by the shells)."""

    deltas: int = 0
    records: int = 0
    snapshots: int = 0
    gaps: int = 0
    crossed: int = 0
    dropped_invalid: int = 0


@dataclass(slots=True)
class _Instrument:
    book: Book = field(default_factory=Book)
    metrics: MetricState = field(default_factory=MetricState)


_EMPTY: list[dict[str, Any]] = []

#: Why a delta is dropped on purpose (docs/reliability.md): no snapshot of the instrument yet; the
#: book is waiting for a snapshot after a gap, a crossed book or a core error; the delta itself
#: broke the sequence chain; it left the book crossed; it left a side of the book empty.
DROP_REASONS = (
    "unknown-instrument", "awaiting-snapshot", "sequence-gap", "crossed-book", "one-sided-book",
)  # fmt: skip
_DROPS = {reason: PipelineOutput(None, _EMPTY, reason) for reason in DROP_REASONS}
_UNKNOWN, _AWAITING, _GAP, _CROSSED, _ONE_SIDED = (_DROPS[r] for r in DROP_REASONS)


class Pipeline:
    """Per-instrument books and metric state, fed one venue packet at a time.

    A snapshot replaces the book and makes it valid. A delta whose `prev_sequence` does not chain
    to the last applied `sequence` (a gap), or a book left crossed/locked after a packet, makes
    the book invalid: it emits nothing until the next snapshot rebuilds it.
    """

    def __init__(self, metrics: MetricsConfig | None = None, breaker: BreakerConfig | None = None):
        self.metrics_config = metrics or MetricsConfig()
        self.breaker_config = breaker or BreakerConfig()
        self.breaker = BreakerEngine(self.breaker_config)
        self.config_hash = PipelineConfig(
            metrics=self.metrics_config, breaker=self.breaker_config
        ).config_hash()
        self.counters = PipelineCounters()
        self._instruments: dict[str, _Instrument] = {}
        # (exchange, symbol) -> state: the hot path skips building and hashing the id string.
        # A cache of `_instruments`, dropped whenever an instrument is restored or forgotten.
        self._by_pair: dict[tuple[str, str], _Instrument] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle (to the worker's compute process) as configs and per-instrument checkpoints:
        the compiled breaker's objects cannot be rebuilt by pickle, their constructors take
        arguments."""
        states = {instrument: self.snapshot_state(instrument) for instrument in self._instruments}
        return (_unpickle, (self.metrics_config, self.breaker_config, states, self.counters))

    def instruments(self) -> list[str]:
        return sorted(self._instruments)

    def book(self, instrument: str) -> Book | None:
        state = self._instruments.get(instrument)
        return None if state is None else state.book

    def process_many(
        self, items: Iterable[tuple[BookDelta, SourcePosition]]
    ) -> list[PipelineOutput]:
        """`process` over a batch, in order; what the shells call per consumed batch."""
        process = self.process
        return [process(delta, position) for delta, position in items]

    def process(self, delta: BookDelta, position: SourcePosition) -> PipelineOutput:
        """Apply one delta; a failure inside the core raises `InvalidDeltaError` (the shells
        dead-letter it) after invalidating the instrument's book, so no half-applied state is
        ever used: the instrument resyncs on its next snapshot."""
        try:
            return self._process(delta, position)
        except (ArithmeticError, ValueError, TypeError, IndexError) as error:
            if isinstance(error, InvalidDeltaError):
                raise
            state = self._by_pair.get((delta.exchange, delta.symbol))
            if state is not None:
                self._invalidate(delta.instrument, state)
            raise InvalidDeltaError(
                f"{delta.instrument}: the core failed on this delta ({type(error).__name__}: "
                f"{error}); the book waits for a snapshot"
            ) from error

    def _process(self, delta: BookDelta, position: SourcePosition) -> PipelineOutput:
        state = self._by_pair.get((delta.exchange, delta.symbol))
        counters = self.counters
        counters.deltas += 1
        if state is None:
            found = self._state_of(delta)
            if found is None:  # no state for an instrument we never had a book of: a flood of
                counters.dropped_invalid += 1  # made-up ids must not grow memory
                return _UNKNOWN
            state = found
        book = state.book
        max_levels = self.metrics_config.max_levels
        if delta.is_snapshot:
            counters.snapshots += 1
            book.reset()
            state.metrics.on_book_reset()
        elif not book.valid:
            counters.dropped_invalid += 1
            return _AWAITING
        elif (
            delta.prev_sequence is not None
            and book.last_sequence is not None
            and delta.prev_sequence != book.last_sequence
        ):
            counters.gaps += 1
            self._invalidate(delta.instrument, state)
            return _GAP
        bids, asks = book.bids, book.asks
        bids.apply(delta.bid_prices, delta.bid_sizes, max_levels)
        asks.apply(delta.ask_prices, delta.ask_sizes, max_levels)
        book.last_sequence = delta.sequence
        if bids.keys and asks.keys and -bids.keys[0] >= asks.keys[0]:  # Book.is_crossed, inline
            counters.crossed += 1
            self._invalidate(delta.instrument, state)
            return _CROSSED
        record = imbalance_record(
            book, state.metrics, self.metrics_config, delta.event_time,
            Identity(
                f"{position.topic}/{position.partition}/{position.offset}", delta.exchange,
                delta.symbol, delta.event_time, delta.receive_time, position.topic,
                position.partition, position.offset, self.config_hash,
            ),
        )  # fmt: skip
        if record is None:
            return _ONE_SIDED
        spec = delta.spec  # what the sizes and notionals are in (streams.core.instruments)
        if spec is None:
            record["instrument_kind"] = record["base_currency"] = record["quote_currency"] = None
        else:
            record["instrument_kind"] = spec.kind
            record["base_currency"] = spec.base
            record["quote_currency"] = spec.quote
        counters.records += 1
        return PipelineOutput(record, self.breaker.on_imbalance(record))

    def _state_of(self, delta: BookDelta) -> _Instrument | None:
        """The instrument's state; created only by a snapshot (a book starts there anyway)."""
        key = delta.instrument
        state = self._instruments.get(key)
        if state is None:
            if not delta.is_snapshot:
                return None
            state = self._instruments[key] = _Instrument()
        self._by_pair[delta.exchange, delta.symbol] = state
        return state

    def _invalidate(self, key: str, state: _Instrument) -> None:
        state.book.invalidate()
        state.metrics.on_book_reset()
        self.breaker.on_book_reset(key)

    # -- state for checkpoints and hand-over --------------------------------------------------
    def snapshot_state(self, instrument: str) -> bytes:
        """Everything the pipeline remembers about one instrument, as canonical JSON bytes."""
        state = self._instruments.get(instrument)
        if state is None:
            state = _Instrument()
        document = {
            "version": _STATE_VERSION,
            "config_hash": self.config_hash,
            "book": state.book.snapshot(),
            "metrics": state.metrics.snapshot(),
            "breaker": self.breaker.snapshot_state(instrument),
        }
        return json.dumps(document, separators=(",", ":"), allow_nan=True).encode()

    def restore_state(self, instrument: str, data: bytes) -> None:
        document = json.loads(data)
        if document.get("version") != _STATE_VERSION:
            raise ValueError(f"{instrument}: unsupported state version {document.get('version')}")
        self._instruments[instrument] = _Instrument(
            Book.restore(document["book"]), MetricState.restore(document["metrics"])
        )
        self._by_pair.clear()
        self.breaker.restore_state(instrument, document["breaker"])

    def forget(self, instrument: str) -> None:
        self._instruments.pop(instrument, None)
        self._by_pair.clear()
        self.breaker.forget(instrument)


def _unpickle(
    metrics: MetricsConfig,
    breaker: BreakerConfig,
    states: dict[str, bytes],
    counters: PipelineCounters,
) -> Pipeline:
    pipeline = Pipeline(metrics, breaker)
    for instrument, data in states.items():
        pipeline.restore_state(instrument, data)
    pipeline.counters = counters
    return pipeline
