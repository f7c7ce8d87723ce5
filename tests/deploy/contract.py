"""What a deployment file may refer to: real `streams` commands, options and settings.

Compose files and manifests are checked against the CLI itself (its `--help` and its parser) and
against the settings parser, so a renamed option or variable breaks a test instead of a rollout.
"""

from __future__ import annotations

import argparse
import functools
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from streams.cli import _parser
from streams.config import ENVIRONMENT, Settings
from streams.connectors.session import ConnectorConfig

REPO = Path(__file__).resolve().parents[2]
# Read by the CLI outside Settings: the sink's DSN (never on argv, where `ps` shows it).
EXTRA_VARIABLES = frozenset({"POSTGRES_DSN"})
KNOWN_VARIABLES = frozenset(ENVIRONMENT) | EXTRA_VARIABLES
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  (what containers must bind for probes and scraping)


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@functools.cache
def help_options(command: str) -> frozenset[str]:
    """Options that `streams COMMAND --help` lists, from the installed entry point."""
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", command, "--help"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"`streams {command} --help` failed: {result.stderr}"
    return frozenset(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", result.stdout))


def check_streams_command(argv: Sequence[str]) -> argparse.Namespace:
    """Assert `streams ARGV` is a real command whose options and values the CLI accepts."""
    assert argv, "an empty command"
    assert argv[0] != "streams", f"{argv}: the image's ENTRYPOINT is already `streams`"
    options = {a.split("=", 1)[0] for a in argv[1:] if a.startswith("--")}
    unknown = options - help_options(argv[0])
    assert not unknown, f"streams {argv[0]} has no option(s) {sorted(unknown)}"
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as error:
        raise AssertionError(f"the CLI rejects `streams {' '.join(argv)}`") from error
    if args.command == "connect":  # venue and symbols are validated when the config is built
        ConnectorConfig(venue=args.venue, symbols=tuple(args.symbols.split(",")))
    return args


def web_port(args: argparse.Namespace) -> int | None:
    """The port a role serves /metrics, /healthz and /readyz on (None: it serves none)."""
    port = getattr(args, "metrics_port", None) or getattr(args, "web_port", None)
    return port or None


def check_environment(environment: Mapping[str, str]) -> Settings:
    """Assert every variable is one the product reads and the settings parser accepts them."""
    unknown = sorted(set(environment) - KNOWN_VARIABLES)
    assert not unknown, f"variables no code reads: {unknown}"
    return Settings.from_environment({k: str(v) for k, v in environment.items()})
