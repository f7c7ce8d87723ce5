"""Commands that recompute outputs from the input topic: `replay` and `audit`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streams.cli.common import (
    Command,
    config_argument,
    parse_time,
    pipeline_config,
    progress_bar,
    resolve_settings,
)
from streams.config import Settings
from streams.exceptions import StreamsError

if TYPE_CHECKING:
    from streams.audit.replay import ReplayRequest

__all__ = ["COMMANDS"]


def _range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, help="ISO-8601 or epoch")
    parser.add_argument("--to", dest="end", required=True, help="ISO-8601 or epoch")
    parser.add_argument("--instrument", action="append", help="EXCHANGE:SYMBOL (repeatable)")
    config_argument(parser)


def _request(args: argparse.Namespace) -> ReplayRequest:
    from streams.audit.replay import ReplayRequest

    instruments = frozenset(args.instrument) if args.instrument else None
    return ReplayRequest(
        start_us=parse_time(args.start), end_us=parse_time(args.end), instruments=instruments
    )


def _replay_arguments(parser: argparse.ArgumentParser) -> None:
    _range_arguments(parser)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--output", default="replay-output", help="directory for JSON lines")
    target.add_argument("--to-topics", action="store_true", help="write replay.* topics")


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from streams.audit.replay import publish_replay, replay
    from streams.offline import atomic_text_file, dump_record

    request = _request(args)  # a bad time fails before anything connects
    core_config = pipeline_config(args, settings)
    settings = resolve_settings(settings)
    result = replay(settings, request, core_config, progress=progress_bar())
    if args.to_topics:
        publish_replay(settings, result)
    else:
        output = Path(args.output)
        output.mkdir(parents=True, exist_ok=True)
        for name, records in (("imbalance", result.imbalance), ("suggestions", result.suggestions)):
            with atomic_text_file(output / f"{name}.jsonl") as file:
                file.writelines(dump_record(record) + "\n" for record in records)
    print(
        f"replayed {result.records_read} records ({result.records_per_second:,.0f}/s): "
        f"{len(result.imbalance)} imbalance, {len(result.suggestions)} suggestions",
        file=sys.stderr,
    )
    return 0


def _audit_arguments(parser: argparse.ArgumentParser) -> None:
    _range_arguments(parser)
    parser.add_argument("--report", default=None, help="directory for the HTML report")


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from streams.audit.audit import run_audit

    request = _request(args)
    core_config = pipeline_config(args, settings)
    settings = resolve_settings(settings)
    outcome = run_audit(
        settings, request, core_config,
        report_dir=Path(args.report) if args.report else None, progress=progress_bar(),
    )  # fmt: skip
    if outcome.config_mismatch():
        raise StreamsError(outcome.config_mismatch())
    for comparison in (outcome.imbalance, outcome.suggestions):
        print(
            f"{comparison.topic}: replayed {comparison.replayed}, live {comparison.live}, "
            f"matched {comparison.matched}, differences {len(comparison.differences)}"
        )
        for difference in comparison.differences:
            print(f"  {difference.describe()}")
        for other, count in sorted(comparison.other_config.items()):
            print(f"  {count} live records of config_hash {other} not compared "
                  f"(this audit: {outcome.config_hash})")  # fmt: skip
    replayed = outcome.replay
    print(f"replay: {replayed.records_read} records in {replayed.seconds:.2f} s "
          f"({replayed.records_per_second:,.0f}/s)")  # fmt: skip
    if outcome.report is not None:
        print(f"report: {outcome.report}")
    return 0 if outcome.ok else 1


COMMANDS = (
    Command("replay", "recompute outputs for a time range (never writes the live topics)",
            _replay_arguments, _replay),
    Command("audit", "replay a time range and compare with the live topics (exit 1 on mismatch)",
            _audit_arguments, _audit),
)  # fmt: skip
