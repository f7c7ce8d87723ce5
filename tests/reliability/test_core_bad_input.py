"""Bad deltas at the core: each case with its documented behaviour (docs/reliability.md).

Out of order, duplicated and gapped sequenced deltas silence the instrument until the next
snapshot; unknown instruments emit nothing until their first snapshot; NaN and negative levels
never reach the core (validate() at every boundary); huge finite values do not crash it; and a
delta with a million levels leaves at most `max_levels` per side in the book.
"""

from __future__ import annotations

import math

import pytest

from streams.codec import TopicCodecs, delta_to_record
from streams.config import Settings
from streams.core.config import MetricsConfig
from streams.core.exceptions import InvalidDeltaError
from streams.core.pipeline import Pipeline, PipelineOutput
from streams.core.types import BookDelta, SourcePosition

pytestmark = pytest.mark.unit

T0 = 1_600_000_000_000_000
AT = SourcePosition("t", 0, 0)


def _delta(
    *, snapshot: bool = False, sequence: int | None = None, previous: int | None = None,
    bids: tuple[tuple[float, float], ...] = ((100.0, 1.0), (99.0, 2.0)),
    asks: tuple[tuple[float, float], ...] = ((101.0, 1.0), (102.0, 2.0)),
    time_us: int = T0, symbol: str = "BTC-USD",
) -> BookDelta:  # fmt: skip
    return BookDelta(
        "TEST", symbol, symbol, time_us, time_us, snapshot,
        tuple(p for p, _ in bids), tuple(s for _, s in bids),
        tuple(p for p, _ in asks), tuple(s for _, s in asks), sequence, previous,
    )  # fmt: skip


def _emitted(output: PipelineOutput) -> bool:
    return output.imbalance is not None


def test_out_of_order_sequenced_delta_silences_the_instrument_until_a_snapshot() -> None:
    pipeline = Pipeline()
    pipeline.process(_delta(snapshot=True, sequence=10), AT)
    assert _emitted(pipeline.process(_delta(sequence=11, previous=10), AT))

    early = pipeline.process(_delta(sequence=13, previous=12, bids=((100.5, 1.0),)), AT)
    late = pipeline.process(_delta(sequence=12, previous=11, bids=((100.2, 1.0),)), AT)
    recovered = pipeline.process(_delta(snapshot=True, sequence=20), AT)

    assert not _emitted(early)
    assert not _emitted(late)
    assert pipeline.counters.gaps == 1
    assert pipeline.counters.dropped_invalid == 1
    assert _emitted(recovered)


def test_duplicated_sequenced_delta_is_a_gap_not_a_second_application() -> None:
    pipeline = Pipeline()
    pipeline.process(_delta(snapshot=True, sequence=1), AT)
    first = pipeline.process(_delta(sequence=2, previous=1, bids=((100.0, 5.0),)), AT)

    again = pipeline.process(_delta(sequence=2, previous=1, bids=((100.0, 5.0),)), AT)

    assert _emitted(first)
    assert not _emitted(again)
    assert pipeline.counters.gaps == 1
    assert not pipeline.book("TEST:BTC-USD").valid  # type: ignore[union-attr]


def test_duplicated_unsequenced_delta_leaves_the_book_unchanged() -> None:
    pipeline = Pipeline()
    pipeline.process(_delta(snapshot=True), AT)
    once = pipeline.process(_delta(bids=((100.0, 3.0),)), AT).imbalance
    book = pipeline.book("TEST:BTC-USD")
    assert book is not None
    levels = (book.bids.levels(), book.asks.levels())

    twice = pipeline.process(_delta(bids=((100.0, 3.0),)), AT).imbalance

    assert (book.bids.levels(), book.asks.levels()) == levels  # sizes replace, never add
    assert once is not None
    assert twice is not None
    assert twice["best_bid_size"] == once["best_bid_size"] == 3.0


def test_sequence_gap_is_counted_and_silences_until_the_next_snapshot() -> None:
    pipeline = Pipeline()
    pipeline.process(_delta(snapshot=True, sequence=100), AT)

    outputs = [pipeline.process(_delta(sequence=s, previous=s - 1), AT) for s in (102, 103, 104)]
    after = pipeline.process(_delta(snapshot=True, sequence=200), AT)

    assert [_emitted(o) for o in outputs] == [False, False, False]
    assert (pipeline.counters.gaps, pipeline.counters.dropped_invalid) == (1, 2)
    assert _emitted(after)


def test_event_time_going_backwards_emits_finite_records() -> None:
    pipeline = Pipeline()
    pipeline.process(_delta(snapshot=True, time_us=T0), AT)
    times = [T0 + 5_000_000, T0 + 1_000_000, T0 - 60_000_000, T0 + 2_000_000]

    records = [pipeline.process(_delta(time_us=t), AT).imbalance for t in times]

    assert all(r is not None for r in records)
    for record in records:
        assert record is not None
        assert all(math.isfinite(v) for v in record.values() if isinstance(v, float))


def test_unknown_instrument_emits_nothing_until_its_snapshot_and_others_are_unaffected() -> None:
    pipeline = Pipeline()
    pipeline.process(_delta(snapshot=True), AT)

    stranger = pipeline.process(_delta(symbol="NEVER-SEEN", sequence=5, previous=4), AT)
    known = pipeline.process(_delta(bids=((100.0, 4.0),)), AT)
    introduced = pipeline.process(_delta(symbol="NEVER-SEEN", snapshot=True), AT)

    assert not _emitted(stranger)
    assert _emitted(known)
    assert _emitted(introduced)
    assert pipeline.counters.dropped_invalid == 1


@pytest.mark.parametrize(
    ("bids", "asks"),
    [(((math.nan, 1.0),), ()), (((100.0, math.nan),), ()), ((), ((101.0, -1.0),)),
     (((-100.0, 1.0),), ()), ((), ((math.inf, 1.0),)), (((0.0, 1.0),), ()),
     (((100.0, math.inf),), ())],
)  # fmt: skip
def test_nan_negative_and_infinite_levels_are_refused_at_the_boundary(
    bids: tuple[tuple[float, float], ...], asks: tuple[tuple[float, float], ...]
) -> None:
    codecs = TopicCodecs.register(Settings(schema_registry_url="mock://core-bad-input"))
    delta = _delta(snapshot=True, bids=bids or ((100.0, 1.0),), asks=asks or ((101.0, 1.0),))
    # the Avro contract itself carries NaN and negatives: the decoder is what refuses them
    encoded = codecs.book_delta.encode(delta_to_record(delta))

    with pytest.raises(InvalidDeltaError):
        delta.validate()
    with pytest.raises(InvalidDeltaError):
        codecs.decode_keyed_delta(delta.instrument.encode(), encoded)


def test_huge_finite_values_do_not_crash_and_later_records_are_finite() -> None:
    codecs = TopicCodecs.register(Settings(schema_registry_url="mock://core-huge"))
    pipeline = Pipeline()
    huge = _delta(snapshot=True, bids=((1e300, 1e300),), asks=((1.1e300, 1e300),))
    pipeline.process(_delta(snapshot=True), AT)

    output = pipeline.process(huge, AT)
    after = pipeline.process(_delta(snapshot=True, time_us=T0 + 1_000_000), AT)

    assert output.imbalance is not None  # emitted; an overflowing metric is +/-inf (IEEE)
    codecs.imbalance.encode(output.imbalance)  # and it still fits the contract
    for suggestion in output.suggestions:
        codecs.suggestion.encode(suggestion)
    assert after.imbalance is not None
    floats = [v for v in after.imbalance.values() if isinstance(v, float)]
    assert all(math.isfinite(v) for v in floats)


def test_a_delta_with_a_million_levels_keeps_max_levels_per_side() -> None:
    levels = 1_000_000
    config = MetricsConfig()
    pipeline = Pipeline(config)
    bids = tuple((100_000.0 - i * 0.01, 1.0) for i in range(levels))  # best first, as venues send
    asks = tuple((100_000.01 + i * 0.01, 1.0) for i in range(levels))

    output = pipeline.process(_delta(snapshot=True, bids=bids, asks=asks), AT)

    book = pipeline.book("TEST:BTC-USD")
    assert book is not None
    assert output.imbalance is not None
    assert len(book.bids) == len(book.asks) == config.max_levels
    assert output.imbalance["bid_levels"] == output.imbalance["ask_levels"] == config.max_levels
    assert book.bids.best() == (100_000.0, 1.0)
    assert book.asks.best() == (100_000.01, 1.0)
