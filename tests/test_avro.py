"""The compiled Avro walk writes fastavro's bytes and reads what fastavro reads, record for record.

Over every delta and output of the real recordings, and over records generated from the schemas
(every branch of every union, empty and long arrays, NaN and -0.0, extreme longs). Whichever
build of `streams.avro` this suite loaded (compiled or pure), the pure source runs here too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streams.avro as loaded_avro
from streams.codec import RecordCodec, TopicCodecs, delta_to_record, load_schema
from streams.codec import _without_logical_types as plain
from streams.config import Topics
from streams.core.pipeline import Pipeline
from streams.core.types import BookDelta, SourcePosition
from streams.simulate.scenarios import run_scenario
from streams.sources.raw import read_raw
from tests.connectors.helpers import RECORDINGS, VENUE_RECORDINGS
from tests.fixtures.pure import pure_copy
from tests.test_codec import _registry

pytestmark = pytest.mark.unit


BUILDS = {"loaded": loaded_avro, "pure": pure_copy(loaded_avro)}
SCHEMAS = ("book_delta", "imbalance", "suggestion")


def _fastavro_bytes(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(plain(schema)), record)
    return buffer.getvalue()


class Both:
    """One schema, encoded and decoded by each build of the walk and by fastavro."""

    def __init__(self, name: str) -> None:
        self.schema = load_schema(name)
        self.parsed = fastavro.parse_schema(plain(self.schema))  # as the codec: ints, not datetimes
        self.nodes = {build: module.compile_schema(self.schema) for build, module in BUILDS.items()}

    def check(self, record: dict[str, Any]) -> None:
        buffer = BytesIO()
        fastavro.schemaless_writer(buffer, self.parsed, record)
        expected = buffer.getvalue()
        for build, module in BUILDS.items():
            node = self.nodes[build]
            assert module.encode(node, b"", record) == expected, build
            decoded = module.decode(node, expected, 0)
            assert _fastavro_bytes(self.schema, decoded) == expected, build
            if not _has_nan(record):
                assert decoded == fastavro.schemaless_reader(BytesIO(expected), self.parsed, None)


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nan(v) for v in value)
    return False


def _inputs() -> Iterator[Iterator[tuple[BookDelta, SourcePosition]]]:
    """Every venue's recording, and a simulated flash crash (the recordings trip no breaker)."""
    for name in sorted(set(VENUE_RECORDINGS.values())):
        yield read_raw(None, RECORDINGS / name)
    yield ((d, SourcePosition("sim", 0, i)) for i, d in enumerate(run_scenario("flash_crash", 1)))


def _recorded_outputs() -> Iterator[tuple[str, dict[str, Any]]]:
    for items in _inputs():
        pipeline = Pipeline()
        for delta, position in items:
            yield "book_delta", delta_to_record(delta)
            output = pipeline.process(delta, position)
            if output.imbalance is not None:
                yield "imbalance", output.imbalance
            for suggestion in output.suggestions:
                yield "suggestion", suggestion


def test_every_record_of_the_recordings_encodes_to_fastavros_bytes() -> None:
    both = {name: Both(name) for name in SCHEMAS}
    counts = dict.fromkeys(SCHEMAS, 0)
    for name, record in _recorded_outputs():
        both[name].check(record)
        counts[name] += 1
    assert min(counts.values()) > 0, counts


def _strategy(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(schema, list):
        return st.one_of([_strategy(branch, named) for branch in schema])
    if isinstance(schema, str):
        primitives: dict[str, st.SearchStrategy[Any]] = {
            "null": st.none(), "boolean": st.booleans(), "string": st.text(),
            "int": st.integers(-(2**31), 2**31 - 1), "long": st.integers(-(2**63), 2**63 - 1),
            "double": st.floats(allow_nan=True) | st.integers(-(2**53), 2**53),
        }  # fmt: skip
        return primitives[schema] if schema in primitives else named[schema]
    kind = schema["type"]
    if kind == "record":
        fields = {f["name"]: _strategy(f["type"], named) for f in schema["fields"]}
        named[schema["name"]] = strategy = st.fixed_dictionaries(fields)
        return strategy
    if kind == "enum":
        named[schema["name"]] = strategy = st.sampled_from(schema["symbols"])
        return strategy
    if kind == "array":
        return st.lists(_strategy(schema["items"], named), max_size=12)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), _strategy(schema["values"], named), max_size=6)
    return _strategy(kind, named)


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_records_encode_to_fastavros_bytes(name: str, data: st.DataObject) -> None:
    both = Both(name)
    both.check(data.draw(_strategy(load_schema(name), {})))


def test_the_codec_falls_back_to_fastavro_for_what_the_walk_refuses() -> None:
    codecs = TopicCodecs.with_registry(_registry(), Topics())
    codec: RecordCodec = codecs.imbalance
    record = next(r for n, r in _recorded_outputs() if n == "imbalance")
    assert codec.decode(codec.encode(record)) == record
    truncated = codec.encode(record)[:-3]
    with pytest.raises(ValueError, match="undecodable"):
        codec.decode(truncated)  # the walk refuses it; fastavro's words reach the dead letter
