"""The dead-letter wire format every producer of dead letters shares (tests/reliability read it)."""

from __future__ import annotations

import pytest

from streams.codec import CodecError
from streams.core.exceptions import InvalidDeltaError
from streams.dead_letters import MAX_REASON_BYTES, REJECTED, headers, record_headers

pytestmark = pytest.mark.unit


def test_a_consumed_record_names_its_reason_and_coordinates_in_order() -> None:
    assert record_headers(CodecError("bad magic byte"), "book-deltas", 3, 41) == [
        ("reason", b"CodecError: bad magic byte"),
        ("source.topic", b"book-deltas"),
        ("source.partition", b"3"),
        ("source.offset", b"41"),
    ]


def test_a_connector_rejection_names_its_source_and_the_reason_is_capped() -> None:
    found = headers("x" * 5000, source="connector:KRAKEN")
    assert found == [("reason", b"x" * MAX_REASON_BYTES), ("source", b"connector:KRAKEN")]


def test_undecodable_and_invalid_deltas_are_rejected_other_failures_are_not() -> None:
    assert issubclass(CodecError, REJECTED)
    assert issubclass(InvalidDeltaError, REJECTED)
    assert not issubclass(KeyError, REJECTED)
