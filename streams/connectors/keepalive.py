"""Keeping a socket open, and noticing when it is not: the silence watchdog, the client pings a
venue asks for, and the answers to the venue's own heartbeats (the parser says what to send)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import aiohttp

__all__ = ["answer", "ping_every", "receive", "send"]


async def receive(
    ws: aiohttp.ClientWebSocketResponse, stale_after_s: float
) -> aiohttp.WSMessage | None:
    """The next message, or None when the socket stayed silent for `stale_after_s`.

    An event loop held up past the deadline can wake with the frame already buffered and the
    timer fired in the same turn; only a socket with nothing waiting then is stale (closing it
    would throw the buffered frames away)."""
    try:
        async with asyncio.timeout(stale_after_s):
            return await ws.receive()
    except TimeoutError:
        pass
    try:
        async with asyncio.timeout(0):  # returns at once when a frame is buffered
            return await ws.receive()
    except TimeoutError:
        return None


async def send(ws: aiohttp.ClientWebSocketResponse | None, text: str) -> bool:
    """Send one message; False when the socket is closing. The frames it still holds are then read
    to the end all the same, and the receive loop sees the close."""
    if ws is None or ws.closed:
        return False
    try:
        await ws.send_str(text)
    except (ConnectionError, aiohttp.ClientError):
        return False
    return True


async def answer(ws: aiohttp.ClientWebSocketResponse | None, replies: Iterable[str]) -> int:
    """Send what the venue asked for (a pong); return how many went out."""
    sent = 0
    for reply in replies:
        if not await send(ws, reply):
            break
        sent += 1
    return sent


async def ping_every(
    ws: aiohttp.ClientWebSocketResponse,
    interval_s: float,
    message: Callable[[int], str],
    sent: Callable[[], None],
) -> None:
    """Send `message(n)` every `interval_s` until the socket closes (or the task is cancelled)."""
    number = 0
    while not ws.closed:
        await asyncio.sleep(interval_s)
        if ws.closed:
            return
        number += 1
        if not await send(ws, message(number)):
            return  # the socket went; the receive loop reconnects
        sent()
