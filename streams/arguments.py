"""Checks of what a user types on the command line: value types for argparse, free ports.

A value is checked where it is parsed, before any command connects anywhere, so a typo costs one
line on stderr (exit 2) instead of a broker round trip and a traceback.
"""

from __future__ import annotations

import argparse
import errno
import math
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from streams.exceptions import StreamsError

__all__ = [
    "PortInUseError",
    "ensure_port_free",
    "non_negative_int",
    "port_number",
    "positive_float",
    "positive_int",
    "url",
]


class PortInUseError(StreamsError):
    """The address a command would listen on is taken (or not this machine's)."""


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def port_number(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port in 0..65535, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def url(*schemes: str) -> Callable[[str], str]:
    """A URL with one of `schemes` and a host (a typo would otherwise be retried for ever)."""

    def check(text: str) -> str:
        try:
            parts = urlsplit(text)
            valid = parts.scheme in schemes and bool(parts.hostname) and (parts.port or 0) >= 0
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            raise argparse.ArgumentTypeError(
                f"expected a {' or '.join(f'{s}://' for s in schemes)}HOST[:PORT] URL, got {text!r}"
            )
        return text

    return check


def ensure_port_free(host: str, port: int, option: str) -> None:
    """Fail now, naming the option, if nothing could listen on host:port (port 0: any port)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        raise PortInUseError(f"cannot listen on {host}:{port} ({option}): {error}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # as the servers do: a port whose old connections linger in TIME_WAIT is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            reason = (
                "already in use"
                if error.errno == errno.EADDRINUSE
                else (error.strerror or str(error))
            )
            raise PortInUseError(
                f"cannot listen on {host}:{port} ({option}): {reason}; pick another with {option}"
            ) from None
