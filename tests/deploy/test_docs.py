"""docs/operations.md stays true: its configuration table names every variable the product reads,
and every `streams` role option it names exists in the CLI."""

from __future__ import annotations

import re

import pytest

from tests.deploy.contract import KNOWN_VARIABLES, REPO, help_options

pytestmark = pytest.mark.unit

OPERATIONS = REPO / "docs" / "operations.md"


def test_the_configuration_table_lists_every_variable() -> None:
    text = OPERATIONS.read_text()
    table = text[text.index("## Configuration") : text.index("## Secrets")]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z0-9_]+)`", row.split("|")[1])}

    assert documented == set(KNOWN_VARIABLES)


def test_the_role_options_it_names_exist() -> None:
    text = OPERATIONS.read_text()
    section = text[text.index("Role options that matter") : text.index("## Secrets")]
    for role, options in re.findall(r"- `(worker|connect|sink)`: (.*?)(?=\n- `|\Z)", section, re.S):
        named = set(re.findall(r"`(--[a-z-]+)`", options))
        assert named, role
        assert named <= help_options(role), (role, named - help_options(role))
