"""Pinned Go tools for tests (amtool for the Alertmanager API tests), installed by scripts/go-tools.sh into
.cache/tools/bin on first use. `make test` installs them before pytest runs (`make tools`), so here it is quick."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "go-tools.sh"
INSTALL_TIMEOUT_S = 1800  # a first build of amtool takes 3-6 minutes on 2 cores


def go_tool(name: str) -> Path:
    """The path of a pinned tool (amtool, alertmanager, promtool). If it cannot be installed the test fails with
    the reason (like the browser tests, it never skips: a skipped amtool test would hide a missing feature)."""
    done = subprocess.run(
        ["bash", str(SCRIPT), name], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/go-tools.sh could not install {name}:\n{done.stderr.strip()[-3000:]}", pytrace=False)
    return Path(done.stdout.strip().splitlines()[-1])
