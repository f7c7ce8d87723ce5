"""Open an input by its spec string: `tardis:PATH` or `raw:VENUE:PATH`.

Every source yields `(BookDelta, SourcePosition)` in file order, positions numbered from 0.
"""

from __future__ import annotations

from collections.abc import Iterator

from streams.core.types import BookDelta, SourcePosition
from streams.exceptions import StreamsError

__all__ = ["SourceSpecError", "open_source"]


class SourceSpecError(StreamsError):
    """A source spec that names no known reader."""


def open_source(spec: str) -> Iterator[tuple[BookDelta, SourcePosition]]:
    kind, _, rest = spec.partition(":")
    if kind == "tardis" and rest:
        from streams.sources.tardis import read_tardis

        return read_tardis(rest)
    if kind == "raw" and ":" in rest:
        from streams.sources.raw import read_raw

        venue, _, path = rest.partition(":")
        return read_raw(venue, path)
    raise SourceSpecError(f"unknown source {spec!r}: expected tardis:PATH or raw:VENUE:PATH")
