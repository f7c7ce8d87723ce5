"""The web side of the live view: aiohttp serves the page and pushes server-sent events.

`GET /events` sends one `snapshot` event, then at most one `update` event per push interval with
the instruments that changed. Every browser has a bounded queue; a browser that falls a whole
queue behind is disconnected, and its EventSource reconnects and starts again from a snapshot, so
a slow tab never makes the server hold more than `client_queue` events for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from streams.config import Settings
from streams.dashboard.config import DashboardConfig
from streams.dashboard.feed import TopicFeed
from streams.dashboard.window import DashboardState

__all__ = ["STATIC", "Hub", "build_app", "run_dashboard", "serve"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
_KEEP_ALIVE_S = 15.0
HUB: web.AppKey[Hub] = web.AppKey("hub")


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; the JSON has no newlines, so it fits one `data:` line."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"event: {event}\ndata: {body}\n\n".encode()


class Hub:
    """The browsers connected to `/events` and the task that pushes updates to them."""

    def __init__(self, state: DashboardState, feed: TopicFeed | None = None) -> None:
        self.state = state
        self.feed = feed
        self.clients: set[asyncio.Queue[bytes | None]] = set()
        self.pushed = 0
        self.dropped_clients = 0
        self._task: asyncio.Task[None] | None = None

    def push_once(self) -> int:
        """Send what changed to every browser; return the number of browsers it went to."""
        frame = self.state.drain()
        if frame is None:
            return 0
        payload = sse("update", frame)
        self.pushed += 1
        for queue in list(self.clients):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                self._disconnect(queue)
        return len(self.clients)

    def _disconnect(self, queue: asyncio.Queue[bytes | None]) -> None:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)  # the handler ends the response; the browser reconnects
        self.clients.discard(queue)
        self.dropped_clients += 1

    async def _push_forever(self) -> None:
        interval = self.state.config.push_interval_s
        while True:
            await asyncio.sleep(interval)
            self.push_once()

    async def start(self, app: web.Application) -> None:
        if self.feed is not None:
            self.feed.start()
        self._task = asyncio.create_task(self._push_forever())

    async def stop(self, app: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue in list(self.clients):
            self._disconnect(queue)
        if self.feed is not None:
            await asyncio.to_thread(self.feed.stop)


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _events(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # proxies must not buffer the stream
        }
    )
    await response.prepare(request)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=hub.state.config.client_queue)
    hub.clients.add(queue)  # before the snapshot: no update can fall between the two
    try:
        await response.write(sse("snapshot", hub.state.snapshot()))
        while True:
            try:
                payload = await asyncio.wait_for(queue.get(), timeout=_KEEP_ALIVE_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if payload is None:
                break
            await response.write(payload)
    except (ConnectionResetError, ConnectionError):
        pass  # the browser went away
    finally:
        hub.clients.discard(queue)
    return response


async def _snapshot(request: web.Request) -> web.Response:
    return web.json_response(request.app[HUB].state.snapshot())


async def _health(request: web.Request) -> web.Response:
    hub = request.app[HUB]
    status = hub.state.snapshot()["status"]
    return web.json_response(
        {"status": "ok", "clients": len(hub.clients), "pushed": hub.pushed, **status}
    )


def build_app(state: DashboardState, feed: TopicFeed | None = None) -> web.Application:
    """The aiohttp application; `feed` (the Kafka thread) starts and stops with it."""
    app = web.Application()
    hub = Hub(state, feed)
    app[HUB] = hub
    app.on_startup.append(hub.start)
    app.on_shutdown.append(hub.stop)
    app.router.add_get("/", _index)
    app.router.add_get("/events", _events)
    app.router.add_get("/api/snapshot", _snapshot)
    app.router.add_get("/healthz", _health)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app


async def serve(app: web.Application, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until `stop` is set; print the bound address (port 0 picks a free port)."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        for address in runner.addresses:
            bound_host, bound_port = address[0], address[1]
            print(f"dashboard: http://{bound_host}:{bound_port}/", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def run_dashboard(settings: Settings, config: DashboardConfig) -> None:
    """`streams dashboard`: consume the output topics and serve the page until SIGINT/SIGTERM."""
    from streams.codec import TopicCodecs

    state = DashboardState(config)
    feed = TopicFeed(settings, state, TopicCodecs.register(settings), backfill=config.backfill)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(build_app(state, feed), config.host, config.port, stop)

    asyncio.run(main())
