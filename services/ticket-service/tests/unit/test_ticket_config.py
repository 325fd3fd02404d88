"""Start-up configuration: chat integrations are off unless configured, and half a configuration fails fast."""

from __future__ import annotations

import httpx
import pytest

from carekit.settings import load_settings
from carekit_testing import TEST_JWT_SECRET
from ticket_service.app import create_app
from ticket_service.config import Settings

pytestmark = pytest.mark.unit
BASE = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "DATABASE_URL": "postgresql://care:care@127.0.0.1:5432/ticket",
    "JWT_SECRET": TEST_JWT_SECRET,
    "HTTP_PORT": "8082",
}


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in [n for n in Settings.model_fields if n.startswith(("slack_", "lark_"))]:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in (BASE | values).items():
        monkeypatch.setenv(name, value)


def test_only_the_four_basic_variables_start_the_service_with_chat_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch)
    settings = load_settings(Settings)
    assert not settings.slack_enabled
    assert not settings.lark_enabled
    assert settings.slack_api_url == "https://slack.com/api/"


def test_half_configured_slack_stops_start_up_naming_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(monkeypatch, SLACK_SIGNING_SECRET="a-real-signing-secret")
    with pytest.raises(SystemExit):
        load_settings(Settings)
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


def test_half_configured_lark_stops_start_up_naming_the_missing_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(monkeypatch, LARK_APP_ID="cli_1")
    with pytest.raises(SystemExit):
        load_settings(Settings)
    err = capsys.readouterr().err
    assert "LARK_APP_SECRET" in err
    assert "LARK_VERIFICATION_TOKEN" in err


@pytest.mark.asyncio(loop_scope="session")
async def test_unconfigured_slack_and_lark_endpoints_answer_503(monkeypatch: pytest.MonkeyPatch) -> None:
    env(monkeypatch)
    app = create_app(load_settings(Settings))  # lifespan not started: no database is needed to refuse
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/slack/events", "/slack/interactivity", "/lark/events", "/lark/card"):
            answer = await client.post(path, content=b"{}")
            assert answer.status_code == 503
        slack = await client.post("/slack/events", content=b"{}")
        assert slack.json() == {"detail": "Slack integration is not configured"}
        lark = await client.post("/lark/card", content=b"{}")
        assert lark.json() == {"detail": "Lark integration is not configured"}
