"""Open an input by its spec string: `tardis:PATH` or `raw:VENUE:PATH`.

Every source yields `(BookDelta, SourcePosition)` in file order, positions numbered from 0, with
sizes in base units where the instrument registry knows the instrument: a raw recording uses the
bundled snapshot of the venues' contract specs (plus `instruments`, an --instruments file); a
tardis file, whose venue names and units are tardis's, only the given `instruments` file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from streams.core.instruments import InstrumentRegistry
from streams.core.types import BookDelta, SourcePosition
from streams.exceptions import StreamsError

if TYPE_CHECKING:
    from streams.sources.raw import Rejects

__all__ = ["SourceSpecError", "open_source"]


class SourceSpecError(StreamsError):
    """A source spec that names no known reader."""


def open_source(
    spec: str, instruments: str | Path | None = None, rejects: Rejects | None = None
) -> Iterator[tuple[BookDelta, SourcePosition]]:
    """The source's deltas; the frames a raw source refuses are counted in `rejects` (a tardis
    file has no such frames: a malformed row stops its read with a `TardisFormatError`)."""
    from streams.venues.instruments import load_entries, load_registry, registry_of

    kind, _, rest = spec.partition(":")
    if kind == "tardis" and rest:
        from streams.sources.tardis import read_tardis

        if instruments is None:
            return read_tardis(rest)
        return _converted(read_tardis(rest), registry_of(load_entries(Path(instruments))))
    if kind == "raw" and ":" in rest:
        from streams.sources.raw import read_raw

        venue, _, path = rest.partition(":")
        return _converted(read_raw(venue, path, rejects=rejects), load_registry(instruments))
    raise SourceSpecError(f"unknown source {spec!r}: expected tardis:PATH or raw:VENUE:PATH")


def _converted(
    items: Iterator[tuple[BookDelta, SourcePosition]], registry: InstrumentRegistry
) -> Iterator[tuple[BookDelta, SourcePosition]]:
    convert = registry.convert
    for delta, position in items:
        yield convert(delta), position
