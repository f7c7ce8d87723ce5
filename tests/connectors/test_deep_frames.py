"""A frame nested deeper than Python recurses (2 KB of brackets) is a `ParseError` for every
venue, in websocket frames and REST snapshot bodies alike: the session counts it and goes on."""

from __future__ import annotations

import pytest

from streams.venues.exceptions import ParseError
from streams.venues.registry import get_venue, venue_names

pytestmark = pytest.mark.unit

DEEP = ["[" * 2048, '{"a":' * 2048, '{"data":' + "[" * 5000 + "]" * 5000 + "}"]


@pytest.mark.parametrize("venue", venue_names())
@pytest.mark.parametrize("frame", DEEP, ids=["brackets", "objects", "balanced"])
def test_deeply_nested_frames_are_parse_errors(venue: str, frame: str) -> None:
    parser = get_venue(venue)
    with pytest.raises(ParseError, match="RecursionError"):
        parser.parse(frame, 1_600_000_000_000_000)
    with pytest.raises(ParseError):
        parser.parse_snapshot(frame.encode(), "BTCUSDT", 1_600_000_000_000_000)
