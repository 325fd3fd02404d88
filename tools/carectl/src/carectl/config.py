"""Where the services are and who the caller is: flags, then environment variables, then the config file.

The config file is TOML at `$CARECTL_CONFIG`, else `$XDG_CONFIG_HOME/carectl/config.toml`, else
`~/.config/carectl/config.toml`:

    token = "eyJ..."                 # or CARECTL_TOKEN, or --token
    [services]
    plan = "http://127.0.0.1:8081"   # or CARECTL_PLAN_URL, or --plan-url
    ticket = "http://127.0.0.1:8082"
    notify = "http://127.0.0.1:8083"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_URLS = {"plan": "http://127.0.0.1:8081", "ticket": "http://127.0.0.1:8082", "notify": "http://127.0.0.1:8083"}


class ConfigError(Exception):
    """The configuration cannot be used (a file that is not TOML, a missing token); a usage error."""


def config_path() -> Path:
    if explicit := os.environ.get("CARECTL_CONFIG"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "carectl" / "config.toml"


def _file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: not a readable TOML file ({exc})") from None


@dataclass(frozen=True)
class Config:
    token: str | None
    urls: dict[str, str]
    source: str  # where the token came from, for messages

    def url(self, service: str) -> str:
        return self.urls[service].rstrip("/")

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError(
                f'no token: pass --token, set CARECTL_TOKEN, or put token = "..." in {config_path()} '
                "(`carectl token --org ORG --role ROLE` mints a development one)"
            )
        return self.token


def load(token: str | None = None, urls: dict[str, str | None] | None = None) -> Config:
    """The configuration: each value from its flag, else its environment variable, else the file, else default."""
    doc = _file(config_path())
    services = doc.get("services", {}) if isinstance(doc.get("services"), dict) else {}
    resolved: dict[str, str] = {}
    for name, default in DEFAULT_URLS.items():
        flag = (urls or {}).get(name)
        resolved[name] = flag or os.environ.get(f"CARECTL_{name.upper()}_URL") or str(services.get(name, default))
    if token:
        return Config(token, resolved, "--token")
    if env := os.environ.get("CARECTL_TOKEN"):
        return Config(env, resolved, "CARECTL_TOKEN")
    from_file = doc.get("token")
    return Config(str(from_file) if from_file else None, resolved, str(config_path()))
