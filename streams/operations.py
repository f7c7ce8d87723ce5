"""What every long-running role needs to be operated: health pages, metrics, log format.

The worker serves `/metrics`, `/healthz` and `/readyz` from its Faust web server
(`streams.agents.app`). Connectors and sinks are not Faust apps, so they serve the same three pages
from `HealthServer`, a small threaded HTTP server: liveness asks the role's main loop whether it
still turns (a stuck loop fails the probe and the orchestrator restarts the process), readiness
asks whether the role does its job right now (books in sync, target reachable).

Every long-running role stops gracefully on SIGTERM/SIGINT, and `arm_stop_deadline` bounds that
stop: a graceful stop still running after `STOP_DEADLINE_S` (the broker gone, a flush that cannot
finish) ends the process with `EXIT_STOP_TIMED_OUT`, so a supervisor never waits for ever and
learns from the exit code that the stop was not clean.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

__all__ = [
    "EXIT_STOP_TIMED_OUT",
    "LOG_FORMATS",
    "PAGES",
    "STOP_DEADLINE_S",
    "HealthServer",
    "RedactingFormatter",
    "arm_stop_deadline",
    "event_loop_alive",
    "logging_config",
    "on_stop_signals",
    "redact",
    "redact_in_logs",
]

log = logging.getLogger(__name__)

LOG_FORMATS = ("text", "json")
PAGES = ("/metrics", "/healthz", "/readyz")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

STOP_DEADLINE_S = float(os.environ.get("STREAMS_STOP_DEADLINE_S", "25"))
EXIT_STOP_TIMED_OUT = 75  # EX_TEMPFAIL: stopped by the deadline, offsets or flushes unconfirmed
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Check = Callable[[], bool]
Detail = Callable[[], Mapping[str, Any]]


_REDACTED: set[str] = set()


def redact_in_logs(*values: str | None) -> None:
    """Never let these values reach a log line, whoever logs them (e.g. aiokafka's DEBUG
    protocol dump shows a SASL/PLAIN password inside `SaslAuthenticateRequest` bytes)."""
    for value in values:
        if value and len(value) >= 4:  # shorter ones would blank out ordinary words
            _REDACTED.update(
                {value, repr(value)[1:-1], repr(value.encode())[2:-1], json.dumps(value)[1:-1]}
            )


def redact(text: str) -> str:
    for value in sorted(_REDACTED, key=len, reverse=True):
        text = text.replace(value, "********")
    return text


class RedactingFormatter(logging.Formatter):
    """Text or JSON lines, with every registered secret replaced in the finished line
    (message, arguments, exception and stack alike)."""

    def __init__(self, log_format: str = "text") -> None:
        super().__init__()
        if log_format == "json":
            from streams.observability import JsonFormatter

            self._inner: logging.Formatter = JsonFormatter()
        else:
            self._inner = logging.Formatter(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._inner.format(record))


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for stderr, plain text or one JSON object per line.

    The same dictionary configures the CLI and the Faust worker (which would otherwise install
    its own coloured console handler). Secrets given to `redact_in_logs` never show.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {LOG_FORMATS}")
    formatter = {"()": "streams.operations.RedactingFormatter", "log_format": log_format}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"streams": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "streams",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
    }


_deadline_lock = threading.Lock()
_deadline: threading.Timer | None = None


def arm_stop_deadline(role: str, seconds: float | None = None) -> None:
    """Start the clock on a graceful stop (idempotent): past the deadline the process exits 75.

    A daemon timer thread, so it fires whatever the main thread or the event loop is stuck in.
    """
    global _deadline
    limit = STOP_DEADLINE_S if seconds is None else seconds

    def expire() -> None:
        log.critical("%s: graceful stop unfinished after %.0f s; exiting %d", role, limit,
                     EXIT_STOP_TIMED_OUT)  # fmt: skip
        logging.shutdown()
        os._exit(EXIT_STOP_TIMED_OUT)

    with _deadline_lock:
        if _deadline is None:
            log.info("%s stopping (deadline %.0f s)", role, limit)
            _deadline = threading.Timer(limit, expire)
            _deadline.daemon = True
            _deadline.start()


def on_stop_signals(
    role: str, stop: Callable[[], None], loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """On SIGTERM or SIGINT: arm the stop deadline, then ask the role to stop (`stop`).

    With `loop`, the handlers run on that event loop (asyncio roles), else as plain signal handlers.
    """

    def handler(*_: Any) -> None:
        arm_stop_deadline(role)
        stop()

    for signum in STOP_SIGNALS:
        if loop is not None:
            loop.add_signal_handler(signum, handler)
        else:
            signal.signal(signum, handler)


def event_loop_alive(loop: asyncio.AbstractEventLoop, timeout_s: float = 5.0) -> bool:
    """True when `loop` (running in another thread) runs a no-op task within `timeout_s`."""
    if loop.is_closed() or not loop.is_running():
        return False
    future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop)
    try:
        future.result(timeout=timeout_s)
    except FutureTimeout:
        future.cancel()
        return False
    return True


class HealthServer:
    """Serve `/metrics`, `/healthz` (live) and `/readyz` (ready) on a daemon thread.

    Until `bind` gets its checks, `/healthz` is live (the process answers) and `/readyz` is not
    ready: a role is ready only once it says so.
    """

    def __init__(self, host: str, port: int) -> None:
        self._live: Check = lambda: True
        self._ready: Check = lambda: False
        self._detail: Detail = dict
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-http", daemon=True
        )

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def bind(self, *, live: Check, ready: Check, detail: Detail | None = None) -> None:
        """Use the role's checks from now on (called once the role's objects exist)."""
        self._live, self._ready = live, ready
        if detail is not None:
            self._detail = detail

    def start(self) -> HealthServer:
        self._thread.start()
        host, port = self._server.server_address[:2]
        log.info("health and metrics on http://%s:%s (/metrics /healthz /readyz)", host, port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def page(self, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body of one page (the HTTP handler's whole logic)."""
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest()
        if path == "/healthz":
            live = _safely(self._live)
            return _json(200 if live else 503, {"status": "ok" if live else "stalled"})
        if path == "/readyz":
            ready = _safely(self._ready)
            try:
                detail = dict(self._detail())
            except Exception:  # the detail is a courtesy; the verdict above stands
                log.exception("readiness detail failed")
                detail = {}
            return _json(200 if ready else 503, {**detail, "ready": ready})
        return _json(404, {"error": f"no page {path}", "pages": list(PAGES)})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, content_type, body = server.page(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would drown the role's own log

        return Handler


def _safely(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:  # a failing check is a failed probe, never a crashed server
        log.exception("health check failed")
        return False


def _json(status: int, body: Mapping[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body, sort_keys=True).encode()
