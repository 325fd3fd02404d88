"""Masking of secrets and e-mail addresses in text that leaves the service (what a language model is sent)."""

from __future__ import annotations

import re
from collections.abc import Callable

SECRET = "[secret]"  # noqa: S105 - the placeholder, not a secret
EMAIL = "[email]"

_Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]

_SENSITIVE_NAMES = (
    r"password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|"
    r"integration[_-]?key|routing[_-]?key|signing[_-]?secret|verification[_-]?token|auth|authorization|"
    r"密码|口令|密钥|令牌"
)

_RULES: list[_Rule] = [
    # PEM private keys, whole.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL), SECRET),
    # Credentials inside URLs and connection strings: scheme://user:password@host -> scheme://user:[secret]@host
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@"), lambda m: f"{m.group(1)}{SECRET}@"),
    # Webhook URLs: the path is the credential (Slack, Lark/Feishu, Zoom, Flashduty, any .../hook...).
    (
        re.compile(
            r"(https?://[^\s/]*(?:hook|larksuite|feishu|zoom|flashcat|pagerduty)[^\s/]*)(/[^\s)>\]\"']*)?", re.I
        ),
        lambda m: m.group(1) + (f"/{SECRET}" if m.group(2) else ""),
    ),
    (re.compile(r"(https?://[^\s/]+)(/[^\s)>\]\"']*hook[^\s)>\]\"']*)", re.I), lambda m: f"{m.group(1)}/{SECRET}"),
    # Secret-bearing query parameters.
    (
        re.compile(r"([?&](?:" + _SENSITIVE_NAMES + r"|sig|signature|key|code)=)[^&\s]+", re.I),
        lambda m: m.group(1) + SECRET,
    ),
    # Well-known token shapes.
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"), SECRET),  # Slack
    (re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"), SECRET),
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"), SECRET),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), SECRET),  # OpenAI-style keys
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), SECRET),  # AWS access key ids
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), SECRET),  # JWTs
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.I), lambda m: m.group(1) + SECRET),
    # name = value, name: value, --password=value, -pvalue, 密码是 value
    (
        re.compile(
            r"((?:" + _SENSITIVE_NAMES + r")[\"']?\s*(?:[:=：]|\s+is\s+|是|为)\s*[\"']?)([^\s\"',;，；]+)", re.I
        ),
        lambda m: m.group(1) + SECRET,
    ),
    # "password hunter2-Pa55": a value after a space is masked when it does not look like a plain word
    (
        re.compile(
            r"((?:password|passwd|pwd|passphrase|密码|口令)\s+)(?=[^\s,;，；)]*[\dA-Z_!@#$%^&*+=.~-])([^\s,;，；)]+)"
        ),
        lambda m: m.group(1) + SECRET,
    ),
    (re.compile(r"(\s-p)([^\s-][^\s]*)"), lambda m: m.group(1) + SECRET),  # mysql -pPASSWORD
    # E-mail addresses.
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), EMAIL),
    # Long random-looking strings (keys without a name): letters and digits mixed, 24+ characters.
    (re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}\b"), SECRET),
]


def mask(text: str) -> str:
    """`text` with tokens, keys, webhook URLs, passwords (also in connection strings) and e-mails replaced."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
