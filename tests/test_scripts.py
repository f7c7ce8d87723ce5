"""scripts/system-packages: what the README's commands install on a machine that lacks things.

Each case runs the real script with a PATH holding only the tools the case grants (a hand-written
`id` stands in for a non-root user, an `apt-get` that fails if run stands in for Debian) and with
the fixed paths it probes moved under a directory that holds nothing; `--dry-run` keeps it from
installing. The Python checks run the real interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-packages"
BASH = "/bin/bash"
FAIL_IF_RUN = "#!/bin/sh\necho apt-get must not run in this test >&2\nexit 99\n"
pytestmark = pytest.mark.unit


def _tool(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.write_text(text)
    path.chmod(0o755)


def _run(
    tmp_path: Path, mode: str, *, root: bool, apt: bool, tools: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _tool(bin_dir, "id", f"#!/bin/sh\necho {0 if root else 1000}\n")
    if apt:
        _tool(bin_dir, "apt-get", FAIL_IF_RUN)
    for name in tools:  # present, never run by the script
        _tool(bin_dir, name, "#!/bin/sh\nexit 0\n")
    environment = {
        "PATH": str(bin_dir),
        "PYTHON": sys.executable,
        "STREAMS_TEST_SYSTEM_ROOT": str(tmp_path / "empty-root"),
        **env,
    }
    return subprocess.run(
        [BASH, str(SCRIPT), mode, "--dry-run"], env=environment, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def test_root_on_debian_installs_every_missing_package_for_the_suite(tmp_path: Path) -> None:
    result = _run(tmp_path, "test", root=True, apt=True)

    assert result.returncode == 0, result.stderr
    command = result.stdout.splitlines()[-1]
    assert command.startswith("would run: apt-get update && apt-get install -y ")
    packages = set(command.split("install -y ")[1].split())
    assert packages == {
        "openjdk-17-jre-headless", "maven", "gcc", "postgresql", "chromium", "chromium-driver",
    }  # fmt: skip
    assert "apt-get must not run" not in result.stderr


def test_setup_alone_needs_no_database_or_browser(tmp_path: Path) -> None:
    result = _run(tmp_path, "setup", root=True, apt=True)

    assert result.returncode == 0, result.stderr
    packages = set(result.stdout.splitlines()[-1].split("install -y ")[1].split())
    assert packages == {"openjdk-17-jre-headless", "maven", "gcc"}


def test_a_user_who_cannot_install_gets_the_exact_command_and_a_stop(tmp_path: Path) -> None:
    result = _run(tmp_path, "test", root=False, apt=True, tools=("java", "mvn", "gcc"))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "run: sudo apt-get install -y postgresql chromium chromium-driver"
    )


def test_without_apt_it_names_the_packages_and_stops(tmp_path: Path) -> None:
    result = _run(tmp_path, "setup", root=True, apt=False, tools=("gcc",))

    assert result.returncode == 1
    assert "Java 17" in result.stderr
    assert result.stderr.splitlines()[-1].endswith(": openjdk-17-jre-headless maven")


def test_an_existing_database_and_browser_are_not_installed_again(tmp_path: Path) -> None:
    browser = tmp_path / "browser"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)

    result = _run(
        tmp_path, "test", root=False, apt=True, tools=("java", "mvn", "gcc"),
        STREAMS_TEST_POSTGRES_DSN="postgresql://elsewhere/db",
        STREAMS_TEST_CHROMIUM=str(browser), STREAMS_TEST_CHROMEDRIVER=str(browser),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""


def test_without_a_compiler_a_user_is_told_and_the_set_up_goes_on(tmp_path: Path) -> None:
    result = _run(tmp_path, "setup", root=False, apt=True, tools=("java", "mvn"))

    assert result.returncode == 0
    assert "pure Python" in result.stderr
    assert result.stderr.rstrip().endswith("sudo apt-get install -y gcc")


def test_a_missing_interpreter_is_a_missing_package(tmp_path: Path) -> None:
    result = _run(
        tmp_path, "setup", root=False, apt=True, tools=("java", "mvn", "gcc"),
        PYTHON=str(tmp_path / "no-python"),
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "run: sudo apt-get install -y python3"


def test_this_machine_lacks_nothing_the_suite_needs() -> None:
    """The suite is running, so the script's own check must agree that nothing is missing."""
    result = subprocess.run(
        [BASH, str(SCRIPT), "test", "--dry-run"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHON": sys.executable}, check=False,
    )  # fmt: skip

    assert result.returncode == 0
    assert result.stdout == ""
