"""carectl without services: development tokens the services accept, configuration precedence, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from carectl.app import app
from carectl.client import Exit
from carekit.identity import TokenVerifier
from carekit_testing import TEST_JWT_SECRET, free_port

pytestmark = pytest.mark.unit
runner = CliRunner()


def mint(org: str, role: str) -> str:
    result = runner.invoke(app, ["token", "--org", org, "--role", role, "--secret", TEST_JWT_SECRET])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_token_is_one_the_services_accept_and_usage_errors_exit_2(tmp_path: Path) -> None:
    token = mint("org-1", "org_owner")
    identity = TokenVerifier(TEST_JWT_SECRET, "connected-care", "connected-care").verify(token)
    assert (identity.org, identity.role.value) == ("org-1", "org_owner")
    assert runner.invoke(app, ["token", "--org", "o", "--role", "king", "--secret", TEST_JWT_SECRET]).exit_code == 2
    assert runner.invoke(app, ["plans", "show"]).exit_code == Exit.USAGE  # missing argument
    no_token = runner.invoke(
        app, ["plans", "show", "o"], env={"CARECTL_TOKEN": "", "CARECTL_CONFIG": str(tmp_path / "x")}
    )
    assert no_token.exit_code == Exit.USAGE
    assert "no token" in no_token.stderr
    bad = tmp_path / "config.toml"
    bad.write_text("token = [unclosed")
    assert runner.invoke(app, ["plans", "show", "o"], env={"CARECTL_CONFIG": str(bad)}).exit_code == Exit.USAGE


def test_the_config_file_gives_the_token_and_urls_and_flags_win(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    port = free_port()
    config.write_text(f'token = "from-file"\n[services]\nplan = "http://127.0.0.1:{port}"\n')
    result = runner.invoke(app, ["plans", "show", "o"], env={"CARECTL_CONFIG": str(config), "CARECTL_TOKEN": ""})
    assert result.exit_code == Exit.UNAVAILABLE  # read the file's URL: nothing listens there
    assert f"127.0.0.1:{port}" in result.stderr
