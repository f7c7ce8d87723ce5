"""The core must stay pure: no I/O libraries, no Kafka, no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import streams.core

pytestmark = pytest.mark.unit

FORBIDDEN = {
    "faust", "confluent_kafka", "aiokafka", "websockets", "aiohttp", "psycopg", "requests",
    "socket", "time", "datetime", "random", "os", "subprocess", "asyncio", "threading",
    "streams.agents", "streams.connectors", "streams.sinks", "streams.audit", "streams.cli",
    "streams.codec", "streams.transport", "streams.broker", "streams.sources", "streams.simulate",
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_modules_import_no_io_no_clock_and_no_higher_layer() -> None:
    core = Path(streams.core.__file__).parent
    modules = sorted(core.glob("*.py"))
    assert len(modules) >= 6
    offenders = {
        f"{module.name}: {name}"
        for module in modules
        for name in _imports(module)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert offenders == set()
