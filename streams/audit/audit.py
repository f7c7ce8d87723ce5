"""`streams audit`: replay a time range and compare it with the live output topics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.audit.diff import TopicComparison, compare_records
from streams.audit.replay import ReplayRequest, ReplayResult, replay
from streams.codec import CodecError, RecordCodec, TopicCodecs
from streams.config import Settings
from streams.core.pipeline_config import PipelineConfig
from streams.transport import read_topic

__all__ = ["AuditOutcome", "run_audit"]


@dataclass(frozen=True, slots=True)
class AuditOutcome:
    """The replay, the comparison of both output topics, and where the report went."""

    replay: ReplayResult
    imbalance: TopicComparison
    suggestions: TopicComparison
    report: Path | None

    @property
    def ok(self) -> bool:
        return self.imbalance.ok and self.suggestions.ok

    @property
    def config_hash(self) -> str:
        return self.replay.config_hash

    def config_mismatch(self) -> str | None:
        """Why nothing could be compared: every live record in range has another config hash."""
        comparisons = (self.imbalance, self.suggestions)
        others: dict[str, int] = {}
        for comparison in comparisons:
            for other, count in comparison.other_config.items():
                others[other] = others.get(other, 0) + count
        if not others or any(c.live > sum(c.other_config.values()) for c in comparisons):
            return None
        found = ", ".join(f"{other} ({count} records)" for other, count in sorted(others.items()))
        return (
            f"the live records were computed with config_hash {found}, this audit replays with "
            f"{self.config_hash}: audit with the configuration of the live run (--config)"
        )


def _live(
    settings: Settings, topic: str, codec: RecordCodec, request: ReplayRequest
) -> Iterator[dict[str, Any]]:
    for message in read_topic(settings, topic):
        if not request.wants(message.key()):
            continue
        try:
            record = codec.decode(message.value() or b"")
        except CodecError:
            continue  # not ours to judge here: an undecodable live record cannot match anything
        if request.start_us <= record["event_time"] < request.end_us:
            yield record


def run_audit(
    settings: Settings,
    request: ReplayRequest,
    config: PipelineConfig | None = None,
    *,
    report_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditOutcome:
    codecs = TopicCodecs.register(settings)
    replayed = replay(settings, request, config, progress=progress)
    topics = settings.topics
    imbalance = compare_records(
        topics.imbalance, replayed.imbalance,
        _live(settings, topics.imbalance, codecs.imbalance, request), "record_id",
        replayed.config_hash,
    )  # fmt: skip
    suggestions = compare_records(
        topics.suggestions, replayed.suggestions,
        _live(settings, topics.suggestions, codecs.suggestion, request), "suggestion_id",
        replayed.config_hash,
    )  # fmt: skip
    report = None
    if report_dir is not None:
        from streams.audit.report import write_report

        report = write_report(report_dir, replayed, imbalance, suggestions)
    return AuditOutcome(replayed, imbalance, suggestions, report)
