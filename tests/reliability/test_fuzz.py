"""Fuzzing the two doors bad bytes come in by: venue frames and Avro records.

Every venue parser gets real frames with hypothesis-chosen parts replaced by hostile JSON values,
and arbitrary JSON documents; the Avro decoder gets real encoded deltas with flipped, cut and
inserted bytes, and arbitrary bytes. The only errors allowed are the documented ones
(`ParseError`; `CodecError` or `InvalidDeltaError`), and every delta that comes out valid passes
`BookDelta.validate()`. On the real broker, every record the worker's processor refuses is in
the dead-letter topic with its reason and source coordinates.
"""

from __future__ import annotations

import json
import math
import random
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.agents.processor import DeltaBatchProcessor, InputRecord
from streams.codec import CodecError, TopicCodecs
from streams.config import Settings
from streams.core.exceptions import InvalidDeltaError
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta
from streams.transport import KafkaOutputSink, read_topic
from streams.venues.exceptions import ParseError
from streams.venues.registry import get_venue, venue_names
from tests.connectors.helpers import book_frames
from tests.reliability.helpers import dead_letters, recorded_deltas

EXAMPLES = 120  # per venue and strategy; ~11 venues x 2 strategies

HOSTILE = st.one_of(
    st.sampled_from(
        ["NaN", "nan", "inf", "-inf", "Infinity", "1e999", "-1", "-0.0", "0", "", " ", "abc",
         "1e308", "99999999999999999999999999", "0x10", "1_000"]
    ),
    st.sampled_from([None, True, False, [], {}, [[]], [None, None], -1, 0, 2**63, -(2**63) - 1,
                     10**30, 1e308, -5.5]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@cache
def _book_frames(venue: str) -> tuple[Any, ...]:
    """Up to 30 small real frames of the venue that carry book updates, as parsed JSON."""
    chosen = tuple(json.loads(text) for text in book_frames(venue, max_chars=6000, count=30))
    assert chosen, f"no book frames for {venue}"
    return chosen


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a JSON document."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(node[head], rest, value)
    return copy


def _parse_checked(venue: str, frame: str | bytes) -> int:
    """Parse; allow only ParseError; every delta must be valid. Returns the deltas emitted."""
    try:
        result = get_venue(venue).parse(frame, 1_600_000_000_000_000)
    except ParseError:
        return 0
    for update in result.updates:
        update.delta.validate()
        assert _longs_fit(update.delta)
    return len(result.updates)


def _longs_fit(delta: BookDelta) -> bool:
    numbers = (delta.event_time, delta.receive_time, delta.sequence, delta.prev_sequence)
    return all(n is None or -(2**63) <= n < 2**63 for n in numbers)


@pytest.mark.unit
@pytest.mark.parametrize("venue", venue_names())
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_real_frames_with_hostile_values_raise_only_parse_error(
    venue: str, data: st.DataObject
) -> None:
    document = data.draw(st.sampled_from(_book_frames(venue)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(document)))
        document = _replace(document, path, data.draw(HOSTILE))

    _parse_checked(venue, json.dumps(document))


@pytest.mark.unit
@pytest.mark.parametrize("venue", venue_names())
@settings(max_examples=EXAMPLES, deadline=None)
@given(document=JSON)
def test_arbitrary_json_raises_only_parse_error(venue: str, document: Any) -> None:
    _parse_checked(venue, json.dumps(document))


@pytest.mark.unit
@pytest.mark.parametrize("venue", [v for v in venue_names() if get_venue(v).snapshot_url("X")])
@settings(max_examples=EXAMPLES, deadline=None)
@given(
    bids=st.lists(st.lists(HOSTILE, min_size=0, max_size=3), max_size=4),
    asks=st.lists(st.lists(HOSTILE, min_size=0, max_size=3), max_size=4),
    last=HOSTILE,
)
def test_rest_snapshots_with_hostile_values_raise_only_parse_error(
    venue: str, bids: list[Any], asks: list[Any], last: Any
) -> None:
    body = json.dumps({"lastUpdateId": last, "bids": bids, "asks": asks})
    try:
        update = get_venue(venue).parse_snapshot(body, "BTCUSDT", 1_600_000_000_000_000)
    except ParseError:
        return
    update.delta.validate()
    assert _longs_fit(update.delta)


# -- Avro -------------------------------------------------------------------------------------


@cache
def _codecs() -> TopicCodecs:
    settings_ = Settings(schema_registry_url="mock://fuzz")
    return TopicCodecs.register(settings_)


@cache
def _encoded_samples() -> tuple[tuple[bytes, bytes], ...]:
    deltas = recorded_deltas()
    picks = [deltas[i] for i in range(0, len(deltas), max(1, len(deltas) // 60))]
    return tuple((d.instrument.encode(), _codecs().encode_delta(d)) for d in picks)


def _decode_checked(key: bytes | None, value: bytes) -> BookDelta | None:
    try:
        delta = _codecs().decode_keyed_delta(key, value)
    except (CodecError, InvalidDeltaError):
        return None
    delta.validate()
    assert key is not None
    assert key.decode("utf-8", "replace") == delta.instrument
    return delta


@pytest.mark.unit
@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_avro_byte_flips_cuts_and_inserts_raise_only_codec_errors(data: st.DataObject) -> None:
    key, value = data.draw(st.sampled_from(_encoded_samples()))
    mutated = bytearray(value)
    for _ in range(data.draw(st.integers(1, 4))):
        operation = data.draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        position = data.draw(st.integers(0, max(0, len(mutated) - 1)))
        if operation == "flip" and mutated:
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif operation == "set" and mutated:
            mutated[position] = data.draw(st.integers(0, 255))
        elif operation == "cut":
            del mutated[position:]
        else:
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=9))

    _decode_checked(key, bytes(mutated))


@pytest.mark.unit
@settings(max_examples=300, deadline=None)
@given(key=st.one_of(st.none(), st.binary(max_size=20)), body=st.binary(max_size=200))
def test_avro_arbitrary_bytes_raise_only_codec_errors(key: bytes | None, body: bytes) -> None:
    header = b"\x00" + _codecs().book_delta.schema_id.to_bytes(4, "big")
    _decode_checked(key, header + body)
    _decode_checked(key, body)


@pytest.mark.unit
@pytest.mark.parametrize("schema", ["imbalance", "suggestion", "unregistered"])
def test_a_corrupt_schema_id_naming_another_schema_is_a_codec_error(schema: str) -> None:
    # found by the broker test below: the reader raised fastavro's SchemaResolutionError
    codecs = _codecs()
    key, value = _encoded_samples()[0]
    schema_id = 999 if schema == "unregistered" else getattr(codecs, schema).schema_id
    corrupt = value[:1] + schema_id.to_bytes(4, "big") + value[5:]

    with pytest.raises(CodecError):
        codecs.decode_keyed_delta(key, corrupt)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("field", "value"),
    [("bid_prices", math.nan), ("bid_prices", -1.0), ("bid_prices", 0.0), ("bid_sizes", -0.5),
     ("ask_sizes", math.inf), ("ask_prices", -math.inf), ("bid_sizes", math.nan)],
)  # fmt: skip
def test_avro_records_with_non_finite_or_negative_levels_are_refused(
    field: str, value: float
) -> None:
    from streams.codec import delta_to_record

    delta = next(d for d in recorded_deltas() if d.bid_prices and d.ask_prices)
    record = delta_to_record(delta)
    record[field] = [value, *record[field][1:]]
    encoded = _codecs().book_delta.encode(record)

    with pytest.raises(InvalidDeltaError):
        _codecs().decode_keyed_delta(delta.instrument.encode(), encoded)


# -- the real broker: rejected records land in the dead-letter topic --------------------------


@pytest.mark.integration
def test_flipped_records_on_the_broker_are_dead_lettered_with_their_reason(
    kafka_settings: Settings, seed: int
) -> None:
    from streams.transport import create_topics, topic_specs

    create_topics(kafka_settings, topic_specs(kafka_settings.topics, partitions=3))
    codecs = TopicCodecs.register(kafka_settings)
    rng = random.Random(seed)
    producer = KafkaOutputSink(kafka_settings)
    for delta in recorded_deltas()[:3000]:
        value = bytearray(codecs.encode_delta(delta))
        if rng.random() < 0.3:  # flip 1-3 random bytes of 30% of the records
            for _ in range(rng.randint(1, 3)):
                value[rng.randrange(len(value))] ^= 1 << rng.randrange(8)
        producer.produce(kafka_settings.topics.book_deltas, delta.instrument.encode(), bytes(value))
    producer.flush()
    records = [
        InputRecord(m.topic(), m.partition(), m.offset(), m.key(), m.value())
        for m in read_topic(kafka_settings, kafka_settings.topics.book_deltas)
    ]
    refused = {}
    for record in records:
        try:
            codecs.decode_keyed_delta(record.key, record.value)
        except (CodecError, InvalidDeltaError) as error:
            refused[(record.partition, record.offset)] = (record, type(error).__name__)

    processor = DeltaBatchProcessor(
        Pipeline(), codecs, kafka_settings.topics, KafkaOutputSink(kafka_settings)
    )
    stats = processor.process_batch(records)
    letters = dead_letters(kafka_settings)

    assert len(records) == 3000
    assert 300 < len(refused) < 900  # most flips break the record, some land in a harmless spot
    assert stats.dead_letters == len(refused) == len(letters)
    by_source = {(int(d.headers["source.partition"]), int(d.headers["source.offset"])): d
                 for d in letters}  # fmt: skip
    assert set(by_source) == set(refused)
    for source, letter in by_source.items():
        record, error_type = refused[source]
        assert (letter.key, letter.value) == (record.key, record.value)
        assert letter.headers["reason"].startswith(error_type)
        assert letter.headers["source.topic"] == kafka_settings.topics.book_deltas
