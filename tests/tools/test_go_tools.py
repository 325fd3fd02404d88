"""scripts/go-tools.sh gives the tests a working amtool of Alertmanager v0.35.0 (issue 12's e2e test drives
notify-service's Alertmanager API with it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.go_tools import INSTALL_TIMEOUT_S, go_tool

pytestmark = pytest.mark.tools


@pytest.mark.timeout(INSTALL_TIMEOUT_S + 60)
def test_go_tools_installs_amtool_of_alertmanager_0_35_0() -> None:
    amtool = go_tool("amtool")
    shown = subprocess.run([str(amtool), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert shown.returncode == 0, shown.stderr
    assert (shown.stdout + shown.stderr).startswith("amtool, version 0.35.0 ")


@pytest.mark.timeout(INSTALL_TIMEOUT_S + 60)
def test_installed_amtool_checks_an_alertmanager_config(tmp_path: Path) -> None:
    amtool = go_tool("amtool")
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(
        "route:\n  receiver: ops\n  group_by: ['...']\n"
        "receivers:\n  - name: ops\n    webhook_configs:\n      - url: http://127.0.0.1:9/hook\n"
    )
    bad.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: ops\n")
    passed = subprocess.run([str(amtool), "check-config", str(good)], capture_output=True, text=True, timeout=30)
    failed = subprocess.run([str(amtool), "check-config", str(bad)], capture_output=True, text=True, timeout=30)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "SUCCESS" in passed.stdout
    assert failed.returncode != 0
    assert 'undefined receiver "nobody"' in failed.stdout + failed.stderr
