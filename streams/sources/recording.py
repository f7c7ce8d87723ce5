"""Read cryptofeed raw-data recordings as timestamped events.

Two formats (see the recordings' README): format A, plain text (`NAME.ws.N.0`, `NAME.http.N.0`,
`NAME.0`), and format B, zstd-compressed JSON lines (`NAME.jsonl.zst`). Both become the same
`RecordedEvent`s, so replay code never cares which one it reads. REST snapshot files that sit
beside a websocket file (`NAME.http.*`) are merged in time order by `read_recording_set`.
"""

from __future__ import annotations

import ast
import base64
import heapq
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from streams.exceptions import StreamsError
from streams.sources.text import first_undecodable_line

__all__ = [
    "RecordedEvent",
    "RecordingFormatError",
    "is_recording",
    "read_recording",
    "read_recording_set",
    "seconds_to_micros",
]

RECV = "recv"
SEND = "send"
CONNECT = "connect"
HTTP = "http"


class RecordingFormatError(StreamsError):
    """A recording file that cannot be read, with the line where it breaks."""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One recorded line: a received frame, a sent message, a connect or a REST response."""

    kind: str  # recv, send, connect, http
    connection: str
    time_us: int
    data: str | bytes  # the payload; empty for connect
    address: str = ""  # websocket address (connect, send) or REST url (http)
    line: int = 0


def seconds_to_micros(text: str) -> int:
    """Convert epoch seconds as decimal text exactly to integer microseconds."""
    whole, _, fraction = text.strip().partition(".")
    return int(whole) * 1_000_000 + int((fraction + "000000")[:6])


def is_recording(path: str | Path) -> bool:
    """True for cryptofeed recordings (format A or B), False for one-payload-per-line files."""
    path = Path(path)
    if path.name.endswith(".jsonl.zst"):
        return True
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stripped = line.strip()
            if stripped:
                return _format_a_event(stripped, path.name, 0) is not None
    return False


def read_recording(path: str | Path) -> Iterator[RecordedEvent]:
    """Yield the events of one recording file in file order."""
    path = Path(path)
    if path.name.endswith(".zst"):
        yield from _read_format_b(path)
    else:
        yield from _read_format_a(path)


def read_recording_set(path: str | Path) -> Iterator[RecordedEvent]:
    """Yield a websocket recording merged by time with its sibling REST files (`NAME.http.*`)."""
    path = Path(path)
    exchange = path.name.split(".ws.")[0] if ".ws." in path.name else ""
    siblings = sorted(path.parent.glob(f"{exchange}.http.*")) if exchange else []
    streams = [read_recording(path), *(read_recording(sibling) for sibling in siblings)]
    yield from heapq.merge(*streams, key=lambda event: event.time_us)


def _read_format_a(path: Path) -> Iterator[RecordedEvent]:
    connection = path.name.rsplit(".", 1)[0]
    number = -1
    with path.open("r", encoding="utf-8") as handle:
        try:
            for number, raw in enumerate(handle):
                line = raw.rstrip("\n")
                if line.strip():
                    event = _format_a_event(line, connection, number)
                    if event is not None:
                        yield event
        except UnicodeDecodeError:
            with path.open("rb") as binary:
                line_number = first_undecodable_line(binary)
            raise RecordingFormatError(f"{path}:{line_number}: not UTF-8 text") from None
        except (ValueError, SyntaxError) as error:  # a timestamp or bytes literal that is not one
            raise RecordingFormatError(
                f"{path}:{number + 1}: not a recording line: {error}"
            ) from None


def _format_a_event(line: str, connection: str, number: int) -> RecordedEvent | None:
    if line.startswith("configuration: "):
        return None
    if line.startswith(("wss://", "ws://")):
        address, _, rest = line.partition(" <-")
        if rest.startswith("> "):
            return RecordedEvent(
                CONNECT, connection, seconds_to_micros(rest[2:]), "", address, number
            )
        stamp, _, payload = rest.lstrip(" ").partition(": ")
        return RecordedEvent(SEND, connection, seconds_to_micros(stamp), payload, address, number)
    if line.startswith(("https://", "http://")):
        url, _, rest = line.partition(" -> ")
        stamp, _, payload = rest.partition(": ")
        return RecordedEvent(HTTP, connection, seconds_to_micros(stamp), payload, url, number)
    stamp, separator, payload = line.partition(": ")
    if not separator or not stamp.replace(".", "", 1).isdigit():
        return None
    data: str | bytes = payload
    if payload.startswith(("b'", 'b"')):
        data = ast.literal_eval(payload)  # binary frames are written as Python bytes literals
    return RecordedEvent(RECV, connection, seconds_to_micros(stamp), data, "", number)


def _read_format_b(path: Path) -> Iterator[RecordedEvent]:
    number = 0
    try:
        with path.open("rb") as compressed:
            reader = zstandard.ZstdDecompressor().stream_reader(compressed)
            for number, line in enumerate(io.TextIOWrapper(reader, encoding="utf-8"), start=1):
                event = _format_b_event(path, number, line)
                if event is not None:
                    yield event
    except UnicodeDecodeError:
        with path.open("rb") as compressed:
            lines = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(compressed))
            line_number = first_undecodable_line(lines)
        raise RecordingFormatError(f"{path}:{line_number}: not UTF-8 text") from None
    except zstandard.ZstdError as error:
        raise RecordingFormatError(
            f"{path}: corrupt zstd data after line {number}: {error}"
        ) from None


def _format_b_event(path: Path, number: int, line: str) -> RecordedEvent | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
        kind = record.get("t")
        if kind not in (RECV, SEND, CONNECT, HTTP):
            return None  # the header line
        data: str | bytes = record.get("data", "")
        if "b64" in record:
            data = base64.b64decode(record["b64"])
        address = record.get("addr") or record.get("url") or ""
        time_us = seconds_to_micros(repr(float(record["ts"])))
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # not JSON, or not an event
        raise RecordingFormatError(f"{path}:{number}: not a recording line: {error!r}") from None
    # numbered from 0, as format A's lines
    return RecordedEvent(kind, record.get("conn", ""), time_us, data, address, number - 1)
