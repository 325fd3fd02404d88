"""Masking: what leaves the service for a language model carries no secret and no e-mail address."""

from __future__ import annotations

import pytest

from assistant_service.domain.masking import mask

pytestmark = pytest.mark.unit

CASES = [
    ("connection string", "mysql://root:Tr0ub4dor@10.0.0.5:4000/app", "Tr0ub4dor", "mysql://root:[secret]@"),
    ("postgres url", "postgresql://svc:pa%24%24word@db:5432/x", "pa%24%24word", "svc:[secret]@"),
    ("mysql -p", "mysql -h gw -u root -pHunter2xyz -P 4000", "Hunter2xyz", "-p[secret]"),
    ("password is", "my password is opensesame42", "opensesame42", "password is [secret]"),
    ("password then value", "(password hunter2-Pa55), thanks", "hunter2-Pa55", "password [secret]"),
    ("password=", "password=letmein99;user=app", "letmein99", "password=[secret]"),
    ("chinese password", "数据库密码：mima123456", "mima123456", "[secret]"),
    (
        "slack webhook",
        "https://hooks.slack.com/services/T00/B00/XXXXXXXXXXXXXXXXXXXXXXXX",
        "XXXXXXXX",
        "hooks.slack.com",
    ),
    ("lark webhook", "https://open.larksuite.com/open-apis/bot/v2/hook/2f3e-11aa", "2f3e-11aa", "open.larksuite.com"),
    ("feishu webhook", "https://open.feishu.cn/open-apis/bot/v2/hook/abc-def-123", "abc-def-123", "open.feishu.cn"),
    ("custom webhook", "https://alerts.example.com/webhook/9f8e7d6c", "9f8e7d6c", "alerts.example.com"),
    ("slack token", "token xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012", "[secret]"),
    ("openai key", "key sk-proj-AbCdEf0123456789XyZ", "sk-proj-AbCdEf0123456789XyZ", "[secret]"),
    ("aws key", "AKIAIOSFODNN7EXAMPLE in the config", "AKIAIOSFODNN7EXAMPLE", "[secret]"),
    (
        "jwt",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXNpZw",
        "eyJzdWIiOiIxMjMifQ",
        "Bearer [secret]",
    ),
    ("pagerduty key", "integration key: a1b2c3d4e5f60718293a4b5c6d7e8f90", "a1b2c3d4e5f6", "[secret]"),
    ("query token", "https://x.example.com/cb?user=1&token=abc123def", "abc123def", "token=[secret]"),
    ("email", "write to ops.lead+db@customer.example.co.uk please", "ops.lead+db@customer.example.co.uk", "[email]"),
    (
        "private key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA",
        "[secret]",
    ),
]


@pytest.mark.parametrize(("name", "text", "secret", "kept"), CASES, ids=[c[0] for c in CASES])
def test_secret_is_masked(name: str, text: str, secret: str, kept: str) -> None:
    masked = mask(text)
    assert secret not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text",
    [
        "Our S1 ticket on Enterprise waited 2 hours; port 4000, 09:00-18:00 UTC.",
        "P99 latency above 200 ms and the changefeed cf-orders-01 lags 600 s.",
        "企业版 S1 工单多久响应？集群 10289473829137 的 CPU 超过 80%。",
        "See /docs/support/alerts-webhook#payload for the dryRun field.",
        "Never paste a password or connection string in chat; reset the password in the console.",
    ],
)
def test_ordinary_support_text_is_left_alone(text: str) -> None:
    assert mask(text) == text
