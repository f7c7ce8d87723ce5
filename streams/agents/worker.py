"""Run the Faust app as a process: a graceful stop that is bounded and says how it ended.

Faust's own stop waits in `wait_empty` for every message in flight and commits; with the broker
gone that commit retries for ever. The stop deadline (`streams.operations.arm_stop_deadline`)
bounds it, and a stop that finished without its final commit confirmed exits 75, like one cut
by the deadline (the broker gone): the supervisor learns that the next owner redoes records.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import faust
from faust.worker import Worker

from streams.operations import EXIT_STOP_TIMED_OUT, arm_stop_deadline, logging_config

__all__ = ["run_worker", "uncommitted_partitions"]

log = logging.getLogger(__name__)


def uncommitted_partitions(consumer: Any) -> list[str]:
    """Partitions with acknowledged offsets that no commit has confirmed (Faust's bookkeeping)."""
    pending = []
    for tp in list(getattr(consumer, "_acked", {})):
        offset = consumer._new_offset(tp)  # Faust keeps no public view of this
        if offset is not None and consumer._should_commit(tp, offset):
            pending.append(f"{tp.topic}[{tp.partition}]@{offset}")
    return pending


class _BoundedStopWorker(Worker):
    """Faust's worker, with the stop deadline armed by the first SIGTERM or SIGINT."""

    unconfirmed: list[str]

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        arm_stop_deadline("worker")
        super()._schedule_shutdown(signum)

    def on_worker_shutdown(self) -> None:
        # With the broker up, offsets acknowledged after Faust's final commit are ordinary
        # at-least-once redeliveries for the next owner; with it gone, no commit was confirmed.
        watch = getattr(self.app.conf.streams_state, "broker", None)
        if watch is not None and not watch.reachable:
            self.unconfirmed = uncommitted_partitions(self.app.consumer)
        if self.unconfirmed:
            log.error("stopped without a confirmed commit of %s", ", ".join(self.unconfirmed))


def run_worker(app: faust.App, level: str, log_format: str) -> int:
    """Run until stopped: 0 after a clean stop, 75 when the last offsets were not committed."""
    worker = _BoundedStopWorker(
        app, loglevel=level, quiet=True, logging_config=logging_config(log_format, level)
    )
    worker.unconfirmed = []
    try:
        worker.execute_from_commandline()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    return EXIT_STOP_TIMED_OUT if worker.unconfirmed else 0
