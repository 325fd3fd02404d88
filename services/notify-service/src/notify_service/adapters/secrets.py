"""Subscriber secrets encrypted at rest with Fernet (key from NOTIFY_SECRET_KEY)."""

from __future__ import annotations

import json
from typing import Any, cast

from cryptography.fernet import Fernet


class SecretBox:
    """Encrypts and decrypts a subscriber's configuration as one JSON document."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, config: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(config, sort_keys=True).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self._fernet.decrypt(bytes(token))))
