"""Poison records through the real broker, a real `streams worker` and both sinks.

Hypothesis generates book deltas the Avro codec accepts: extreme floats (NaN, inf, 1e308,
subnormals), 64-bit edges in times and sequences, empty, long, unicode and control-character
ids, empty and huge books. After each batch a canary snapshot goes to every partition. The
canaries must come out of the worker and out of both sinks (no partition is stuck, no process
exited), and every input record is accounted for: an imbalance record, a dead letter with a
reason, or a drop counted in `streams_dropped_total` (docs/reliability.md).
"""

from __future__ import annotations

import math
import re
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import Producer
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from streams.codec import TopicCodecs, delta_to_record
from streams.config import Secret, Settings
from streams.core.types import BookDelta
from streams.sinks.parquet import ParquetWriter
from streams.sinks.postgres import PostgresWriter
from streams.sinks.tables import IMBALANCE, SUGGESTIONS
from streams.transport import make_producer
from tests.fixtures.workers import OutputCollector, WorkerFactory
from tests.reliability.conftest import SEED
from tests.reliability.helpers import dead_letters
from tests.sinks.conftest import ParquetTarget, PostgresTarget, RunningSink

pytestmark = pytest.mark.integration

EXAMPLES = 5  # batches; each one waits for its canaries through the worker and both sinks
BATCH = 50  # generated deltas per batch
PARTITIONS = 3
T0 = 1_600_000_000_000_000
LONG = (-(2**63), 2**63 - 1)
WAIT_S = 300

_EXTREME_FLOATS = [
    math.nan, math.inf, -math.inf, 1e308, 1.7e308, -1e308, 5e-324, 1e-12, 1e15, 1e18, 1e19,
    0.0, -0.0, -1.0,
]  # fmt: skip
prices = st.one_of(
    st.floats(99.0, 101.0), st.sampled_from(_EXTREME_FLOATS), st.floats(allow_nan=True)
)
sizes = st.one_of(st.floats(0.0, 10.0), st.sampled_from(_EXTREME_FLOATS), st.floats())
times = st.one_of(
    st.integers(T0, T0 + 10**9), st.sampled_from([*LONG, 0, -1, 253_402_300_800_000_000]),
    st.integers(*LONG),
)  # fmt: skip
sequences = st.one_of(st.none(), st.integers(0, 10**6), st.sampled_from(LONG))
_odd_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
_plain_symbols = st.sampled_from(["BTC-USD", "ETH-USD", "Ü-€"])
exchanges = st.one_of(st.just("FUZZ"), st.sampled_from(["", " ", "X" * 65, "É" * 40]), _odd_text)
symbols = st.one_of(_plain_symbols, st.sampled_from(["", "\x00", "A\nB", "\u202e"]), _odd_text)
valid_times = st.integers(T0, T0 + 10**9)


@st.composite
def side(draw: st.DrawFn, hostile: bool, bid: bool) -> tuple[tuple[float, ...], ...]:
    """One side's prices and sizes: plausible and sorted, or anything a float can be."""
    choice = draw(st.integers(0, 19))
    if choice == 0:  # a huge book, cheaply: thousands of levels
        count = draw(st.integers(1_000, 5_000))
        start = draw(st.floats(90.0, 99.0)) if bid else draw(st.floats(101.0, 110.0))
        step = -0.01 if bid else 0.01
        return tuple(start + i * step for i in range(count)), (1.0,) * count
    if choice == 1:  # the extremes the boundary accepts: metrics may overflow to inf
        return ((1e-12,), (1e18,)) if bid else ((1e15,), (1e18,))
    if hostile:
        pairs = draw(st.lists(st.tuples(prices, sizes), max_size=6))
    else:
        band = st.floats(90.0, 99.99) if bid else st.floats(100.01, 110.0)
        pairs = draw(st.lists(st.tuples(band, st.floats(0.0, 10.0)), max_size=6))
        pairs.sort(reverse=bid)
    return tuple(p for p, _ in pairs), tuple(s for _, s in pairs)


@st.composite
def deltas(draw: st.DrawFn) -> BookDelta:
    """Mostly plausible deltas (so books get built and records flow), a third of them made
    hostile in one or more of: levels, ids, times, sequence numbers."""
    odd = set(draw(st.lists(st.sampled_from(["levels", "ids", "times", "sequences"]))))
    if draw(st.integers(0, 2)) > 0:
        odd = set()
    hostile = "levels" in odd
    (bp, bs), (ap, asz) = draw(side(hostile, True)), draw(side(hostile, False))
    exchange = draw(exchanges) if "ids" in odd else "FUZZ"
    symbol = draw(symbols if "ids" in odd else _plain_symbols)
    time_of = times if "times" in odd else valid_times
    number = sequences if "sequences" in odd else st.none()
    return BookDelta(
        exchange=exchange, symbol=symbol, venue_symbol=symbol,
        event_time=draw(time_of), receive_time=draw(time_of), is_snapshot=draw(st.booleans()),
        bid_prices=bp, bid_sizes=bs, ask_prices=ap, ask_sizes=asz,
        sequence=draw(number), prev_sequence=draw(number),
        checksum=draw(st.one_of(st.none(), st.integers(*LONG))),
    )  # fmt: skip


@dataclass
class Produced:
    """Input coordinates of every record the test produced, from the delivery reports."""

    coordinates: set[tuple[int, int]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def on_delivery(self, error: Any, message: Any) -> None:
        if error is not None:
            self.errors.append(str(error))
        else:
            self.coordinates.add((message.partition(), message.offset()))


def _produce(
    producer: Producer, topic: str, items: list[tuple[bytes, bytes, int | None]], sink: Produced
) -> None:
    for key, value, partition in items:
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, key=key, value=value, on_delivery=sink.on_delivery, **extra)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert sink.errors == []


def _canary(index: int, partition: int) -> BookDelta:
    symbol = f"P{partition}-{index}"
    return BookDelta(
        "CANARY", symbol, symbol, T0 + index, T0 + index, True,
        (100.0, 99.0), (1.0, 2.0), (101.0, 102.0), (1.0, 2.0),
    )  # fmt: skip


_SAMPLE = re.compile(r"^(streams_\w+)\{([^}]*)\}\s+(\S+)$", re.MULTILINE)


def _metrics(port: int, by_label: bool = False) -> dict[str, float]:
    """Sum of each `streams_*` counter of the worker, over its labels (or per label set)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for name, labels, value in _SAMPLE.findall(text):
        if 'role="worker"' in labels:
            key = f"{name}{{{labels}}}" if by_label else name
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def _wait(condition: Callable[[], bool], what: str, alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_poison_records_never_stop_a_partition_and_every_record_is_accounted_for(
    topics_ready: Settings, worker_factory: WorkerFactory, run_sink: Callable[..., RunningSink],
    postgres_dsn: str, postgres_server: Any, tmp_path: Any,
) -> None:  # fmt: skip
    settings_ = topics_ready
    codecs = TopicCodecs.register(settings_)
    worker = worker_factory("--batch-size", "50")
    parquet = ParquetTarget(tmp_path / "lake")
    postgres = PostgresTarget(postgres_dsn, postgres_server)
    sinks = [
        (parquet, run_sink(ParquetWriter(parquet.root), "poison-parquet", batch_size=200)),
        (postgres, run_sink(PostgresWriter(Secret(postgres_dsn)), "poison-pg", batch_size=200)),
    ]
    imbalance = OutputCollector(
        settings_, settings_.topics.imbalance, codecs.imbalance, "record_id"
    )
    producer = make_producer(settings_)
    produced = Produced()
    topic = settings_.topics.book_deltas
    batches: list[int] = []

    def alive() -> None:
        assert worker.process.poll() is None, f"the worker exited:\n{worker.log()[-3000:]}"
        for _, running in sinks:
            assert running.errors == [], running.errors
            assert running.thread.is_alive(), "a sink stopped"

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @seed(SEED)  # STREAMS_TEST_RELIABILITY_SEED, like every random choice of these tests
    @given(st.lists(deltas(), min_size=BATCH, max_size=BATCH))
    def one_batch(generated: list[BookDelta]) -> None:
        index = len(batches)
        batches.append(len(generated))
        items: list[tuple[bytes, bytes, int | None]] = []
        for delta in generated:
            try:  # only what the codec accepts (a long beyond 64 bits, a lone surrogate: not)
                value = codecs.book_delta.encode(delta_to_record(delta))
                key = delta.instrument.encode()
            except (ValueError, TypeError, OverflowError):
                continue  # the codec's own refusals are not under test here
            items.append((key, value, None))
        canaries = [_canary(index, p) for p in range(PARTITIONS)]
        items += [
            (c.instrument.encode(), codecs.encode_delta(c), p) for p, c in enumerate(canaries)
        ]
        _produce(producer, topic, items, produced)

        def through_worker() -> bool:
            imbalance.poll(0.5)
            seen = {(r["exchange"], r["symbol"]) for r in imbalance.records.values()}
            return all((c.exchange, c.symbol) in seen for c in canaries)

        _wait(through_worker, f"batch {index}'s canaries from the worker", alive)
        _wait(lambda: _metrics(worker.web_port).get("streams_events_total", 0)
              >= len(produced.coordinates), "the worker to count every input", alive)  # fmt: skip
        ids = set(imbalance.records)
        for target, _ in sinks:
            _wait(
                lambda target=target: ids <= {r["record_id"] for r in target.rows(IMBALANCE)},
                f"batch {index}'s records in {target.kind}", alive,
            )  # fmt: skip

    one_batch()
    alive()
    assert len(batches) == EXAMPLES  # Hypothesis generated every batch (none overran its buffer)

    # every input: an output, a dead letter or a counted drop, exactly one of them
    metrics = _metrics(worker.web_port)
    letters = dead_letters(settings_)
    worker_letters = {
        (int(d.headers["source.partition"]), int(d.headers["source.offset"]))
        for d in letters
        if d.headers.get("source.topic") == topic
    }
    assert all(d.headers.get("reason") for d in letters)
    outputs = {(r["source_partition"], r["source_offset"]) for r in imbalance.records.values()}
    assert imbalance.conflicts == []
    assert not outputs & worker_letters
    assert outputs | worker_letters <= produced.coordinates
    dropped = metrics.get("streams_dropped_total", 0.0)
    assert len(produced.coordinates) == len(outputs) + len(worker_letters) + dropped, (
        f"in {len(produced.coordinates)}, out {len(outputs)}, dead letters "
        f"{len(worker_letters)}, dropped {dropped}"
    )
    assert metrics.get("streams_dead_letters_total", 0.0) == len(worker_letters)
    assert len(worker_letters) > 0  # the generator did produce poison
    # and both sinks stored every worker output (nothing the worker emits is unstorable)
    sink_letters = [d for d in letters if d.headers.get("source.topic") != topic]
    assert sink_letters == []
    for target, running in sinks:
        stored = {r["record_id"] for r in target.rows(IMBALANCE)}
        assert stored == set(imbalance.records), target.kind
        assert running.runner.stats.dead_letters == 0
    suggestions = {r["suggestion_id"] for r in parquet.rows(SUGGESTIONS)}
    assert suggestions == {r["suggestion_id"] for r in postgres.rows(SUGGESTIONS)}
    kinds = ("core failed", "time", "sequence", "checksum", "price", "size", "exchange", "symbol")
    reasons = Counter(
        next((k for k in kinds if k in d.headers["reason"]), d.headers["reason"][:30])
        for d in letters
    )
    drops = {
        re.findall(r'reason="([^"]+)"', key)[0]: int(value)
        for key, value in _metrics(worker.web_port, by_label=True).items()
        if key.startswith("streams_dropped_total")
    }
    print(
        f"\npoison records: {len(produced.coordinates)} in ({sum(batches)} generated), "
        f"{len(outputs)} imbalance records, {len(worker_letters)} dead letters, "
        f"{dropped:.0f} counted drops {drops}; suggestions {len(suggestions)}; "
        f"dead-letter reasons {dict(reasons.most_common())}"
    )
