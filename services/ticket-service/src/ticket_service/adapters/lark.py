"""Lark: callback verification (token, encrypt key, signature) and the request card; the client is the kit's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from care_schemas.catalogue import Severity
from care_schemas.events.ticket import TicketKind

MAX_AGE_S = 300
SUBMIT_ACTION = "raise_request"


class Unverified(Exception):
    """The callback is not from Lark (bad token, signature or stale)."""


def decrypt(encrypt_key: str, encrypted: str) -> str:
    """AES-256-CBC with key sha256(encrypt_key) and the IV in the first 16 bytes of the base64 data."""
    raw = base64.b64decode(encrypted)
    if len(raw) < 32 or len(raw) % 16:
        raise Unverified("encrypted body has the wrong length")
    decryptor = Cipher(algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except ValueError as exc:
        raise Unverified("encrypted body does not decrypt with the encrypt key") from exc


def encrypt(encrypt_key: str, plaintext: str, iv: bytes) -> str:
    """The inverse of `decrypt` (for local Lark-compatible servers and tests)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature: sha256 hex of timestamp + nonce + encrypt_key + raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *,
    verification_token: str,
    encrypt_key: str | None,
    now: float | None = None,
) -> dict[str, Any]:
    """The callback's JSON (decrypted), or Unverified.

    With an encrypt key every callback must carry a valid, fresh X-Lark-Signature, except the URL challenge
    (Lark sends it unsigned, as the official SDK also accepts); every callback must carry the verification token.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ts, nonce, sig = (lower.get(h) for h in ("x-lark-request-timestamp", "x-lark-request-nonce", "x-lark-signature"))
    unsigned = not (ts and nonce and sig)
    if encrypt_key and not unsigned:
        assert ts
        assert nonce
        assert sig
        if not hmac.compare_digest(signature(ts, nonce, encrypt_key, body), sig):
            raise Unverified("X-Lark-Signature does not match")
        try:
            age = abs((time.time() if now is None else now) - int(ts))
        except ValueError as exc:
            raise Unverified("X-Lark-Request-Timestamp is not a number") from exc
        if age > MAX_AGE_S:
            raise Unverified("request is older than 5 minutes")
    try:
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise Unverified("body is not a JSON object")
        if "encrypt" in doc:
            if not encrypt_key:
                raise Unverified("encrypted callback but LARK_ENCRYPT_KEY is not set")
            doc = json.loads(decrypt(encrypt_key, str(doc["encrypt"])))
    except (ValueError, TypeError) as exc:
        raise Unverified("body is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise Unverified("body is not a JSON object")
    if encrypt_key and unsigned and doc.get("type") != "url_verification":
        raise Unverified("missing X-Lark-Signature headers (only the URL challenge may come unsigned)")
    header = doc.get("header")
    token = doc.get("token") or (header.get("token") if isinstance(header, dict) else None)
    if not isinstance(token, str) or not hmac.compare_digest(token, verification_token):
        raise Unverified("verification token does not match")
    return doc


def _select(name: str, placeholder: str, values: list[str]) -> dict[str, Any]:
    return {
        "tag": "select_static",
        "name": name,
        "required": True,
        "placeholder": {"tag": "plain_text", "content": placeholder},
        "options": [{"text": {"tag": "plain_text", "content": v}, "value": v} for v in values],
    }


def _text(name: str, label: str, required: bool, multiline: bool = False, value: str | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {
        "tag": "input",
        "name": name,
        "required": required,
        "input_type": "multiline_text" if multiline else "text",
        "label": {"tag": "plain_text", "content": label},
        "placeholder": {"tag": "plain_text", "content": label},
    }
    return field | {"default_value": value} if value else field


def request_card(
    chat_id: str,
    root_message_id: str,
    *,
    direct: bool = False,
    summary: str | None = None,
    cluster_id: str | None = None,
    description: str | None = None,
    alert: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The interactive card with a form: the same fields as Slack's modal, submitted with one button; opened from
    a thread the assistant answered in, the summary and description start as the question and the conversation;
    opened from an alert's Open ticket, they start from the alert and `alert` (an AlertRef) rides in the submit.
    `direct`: the card is in a one-to-one chat with the bot (not a bound group)."""
    submit: dict[str, Any] = {"action": SUBMIT_ACTION, "chat_id": chat_id, "root_id": root_message_id}
    if direct:
        submit["direct"] = True
    if alert is not None:  # opened from an alert's Open ticket: the ticket carries it
        submit["alert"] = alert
    return {
        "schema": "2.0",
        "header": {"title": {"tag": "plain_text", "content": "Raise a support request"}},
        "body": {
            "elements": [
                {
                    "tag": "form",
                    "name": "request",
                    "elements": [
                        _text("summary", "Summary", required=True, value=summary),
                        _select("severity", "Severity", [s.value for s in Severity]),
                        _select("kind", "Kind", [k.value for k in TicketKind]),
                        _text("cluster_id", "Cluster", required=False, value=cluster_id),
                        _text("description", "Description", required=False, multiline=True, value=description),
                        _text("reporter_email", "Reporter email (your console email)", required=True),
                        {
                            "tag": "button",
                            "name": "submit",
                            "text": {"tag": "plain_text", "content": "Submit"},
                            "type": "primary",
                            "form_action_type": "submit",
                            "behaviors": [{"type": "callback", "value": submit}],
                        },
                    ],
                }
            ]
        },
    }
