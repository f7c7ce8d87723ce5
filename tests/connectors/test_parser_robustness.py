"""Bad input never crashes a parser and never yields a corrupt delta: only `ParseError`."""

from __future__ import annotations

import json
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.venues.base import MAX_FRAME_BYTES
from streams.venues.exceptions import ParseError
from streams.venues.registry import get_venue
from tests.connectors.helpers import book_frames

pytestmark = pytest.mark.unit

SAMPLES = sorted(
    [
        "BINANCE",
        "BINANCE_FUTURES",
        "BYBIT",
        "COINBASE",
        "DERIBIT",
        "KRAKEN",
        "KRAKEN_FUTURES",
        "OKX",
    ]
)


@cache
def _book_frames(venue: str) -> tuple[str, ...]:
    """Up to 40 small real frames that carry book updates."""
    return book_frames(venue, max_chars=4000, count=40)


def _parse_or_parse_error(venue: str, frame: str | bytes) -> None:
    try:
        result = get_venue(venue).parse(frame, 1_600_000_000_000_000)
    except ParseError:
        return
    for update in result.updates:
        update.delta.validate()


@pytest.mark.parametrize("venue", SAMPLES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_byte_flips_raise_only_parse_error(venue: str, data: st.DataObject) -> None:
    frame = bytearray(data.draw(st.sampled_from(_book_frames(venue))).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(frame) - 1))
        frame[position] = data.draw(st.integers(0, 255))

    _parse_or_parse_error(venue, bytes(frame))


@pytest.mark.parametrize("venue", SAMPLES)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_replaced_numbers_raise_only_parse_error(venue: str, data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(_book_frames(venue)))
    bad = data.draw(
        st.sampled_from(['"NaN"', '"-1"', '"inf"', '"abc"', "null", "-5", "1e999", '""'])
    )
    digits = [i for i, char in enumerate(text) if char.isdigit()]
    position = data.draw(st.sampled_from(digits))

    _parse_or_parse_error(venue, text[:position] + bad + text[position + 1 :])


@pytest.mark.parametrize("venue", SAMPLES)
def test_negative_size_is_refused(venue: str) -> None:
    text = _book_frames(venue)[-1]
    message = json.dumps(_negate_sizes(json.loads(text)))

    with pytest.raises(ParseError):
        get_venue(venue).parse(message, 1)


def _negate_sizes(node: object) -> object:
    """Set every level's size to -1 (Deribit deletes become changes, so the size counts)."""
    if isinstance(node, dict):
        return {
            key: ("-1" if key in ("qty", "new_quantity") else _negate_sizes(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        if len(node) >= 2 and _is_number(node[1]):
            if node[0] in ("new", "change", "delete"):
                return ["change", node[1], -1, *node[3:]]
            return [node[0], "-1", *node[2:]]
        return [_negate_sizes(item) for item in node]
    return node


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


@pytest.mark.parametrize(
    "frame", ["", "{", "[]", "null", "42", '"text"', "{}", b"\xff\xfe", '[1, {"b": 5}]']
)
@pytest.mark.parametrize("venue", SAMPLES)
def test_junk_frames_are_ignored_or_refused(venue: str, frame: str | bytes) -> None:
    _parse_or_parse_error(venue, frame)


def test_oversized_frame_is_refused_before_decoding() -> None:
    with pytest.raises(ParseError, match="exceeds"):
        get_venue("BYBIT").parse(" " * (MAX_FRAME_BYTES + 1), 1)
