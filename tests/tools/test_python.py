"""scripts/python.sh names the interpreter `make install` builds the environment on (docs/decisions.md, "The
services run on an optimised build of CPython"), and the environment the tests run in is built on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "python.sh"


def named(**env: str) -> str:
    shown = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600, env={**os.environ, **env}, check=False
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip()


def test_the_environment_runs_on_the_interpreter_the_script_names() -> None:
    wanted = named()
    # as for the Go tools, never a skip: a skipped test would hide an environment built on any interpreter
    assert wanted, "scripts/python.sh names no interpreter here (not Debian, or not root): set CARE_PYTHON"
    # the environment's interpreter is a link to the one it was built on
    assert Path(sys.executable).resolve() == Path(wanted).resolve(), (
        f"the environment runs on {Path(sys.executable).resolve()}, not on {wanted}: build it with `make install`"
    )


def test_care_python_names_another_interpreter() -> None:
    assert named(CARE_PYTHON="/opt/python/bin/python3.12") == "/opt/python/bin/python3.12"
