"""Where a text file stops being UTF-8: readers decode in chunks, so their error has no line."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["first_undecodable_line"]


def first_undecodable_line(lines: Iterable[bytes]) -> int:
    """Number (from 1) of the first line that is not UTF-8, 0 if all are.

    Per line is exact: a newline byte never occurs inside a UTF-8 multi-byte sequence.
    """
    for number, data in enumerate(lines, start=1):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 0
