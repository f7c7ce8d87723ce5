"""Imports point downward only: each part of `streams` may import only parts of lower layers.

A part is a top-level module (`streams.codec`) or package (`streams.venues`). Lazy imports inside
functions count too: a lower layer that reaches up at run time is still tied to the higher one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import streams

pytestmark = pytest.mark.unit

LAYERS: tuple[tuple[str, ...], ...] = (
    ("exceptions", "avro"),
    ("core",),
    ("config",),
    ("venues", "codec", "broker", "observability", "arguments"),
    ("dead_letters",),
    ("transport", "sources", "operations"),
    ("connectors", "fake_exchange", "agents", "sinks", "audit", "dashboard", "simulate",
     "offline"),
    ("run",),
    ("cli",),
)  # fmt: skip
LAYER_OF = {part: level for level, parts in enumerate(LAYERS) for part in parts}
NO_IO_OR_CLOCK = {
    "venues": {"aiohttp", "asyncio", "confluent_kafka", "faust", "random", "socket", "time"},
}


def _part(root: Path, path: Path) -> str:
    relative = path.relative_to(root).with_suffix("").parts
    return relative[0]


def _imported(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def violations(root: Path) -> list[str]:
    """Every import in the package at `root` that points up or sideways, as `file: module`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        part = _part(root, path)
        if part == "__init__":
            continue
        for name in _imported(path):
            target = name.split(".")[1] if name.startswith("streams.") else None
            if (
                target is not None
                and target != part
                and (LAYER_OF.get(target, len(LAYERS)) >= LAYER_OF.get(part, -1))
            ):
                found.append(f"{path.relative_to(root)}: {name}")
            if name.split(".")[0] in NO_IO_OR_CLOCK.get(part, ()):
                found.append(f"{path.relative_to(root)}: {name}")
    return found


def test_every_part_of_the_package_has_a_layer() -> None:
    root = Path(streams.__file__).parent
    parts = {_part(root, path) for path in root.rglob("*.py")} - {"__init__"}
    assert parts <= set(LAYER_OF), sorted(parts - set(LAYER_OF))


def test_imports_point_only_downward() -> None:
    assert violations(Path(streams.__file__).parent) == []


@pytest.mark.parametrize(
    ("module", "source", "reported"),
    [
        ("core/bad.py", "from streams.agents import app\n", "streams.agents"),
        (
            "venues/bad.py",
            "def f():\n    import streams.connectors.session\n",
            "streams.connectors.session",
        ),
        ("sources/bad.py", "from streams.transport import Producer\n", "streams.transport"),
        ("venues/clock.py", "import time\n", "time"),
        ("core/unknown.py", "import streams.newpart\n", "streams.newpart"),
    ],
)
def test_an_upward_or_sideways_import_is_reported(
    tmp_path: Path, module: str, source: str, reported: str
) -> None:
    root = tmp_path / "streams"
    (root / module).parent.mkdir(parents=True)
    (root / module).write_text(source)
    assert violations(root) == [f"{module}: {reported}"]
