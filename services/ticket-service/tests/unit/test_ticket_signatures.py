"""Inbound verification: Slack's documented example and Lark's documented encryption, plus bad variants."""

from __future__ import annotations

import json
import time

import pytest
import slack_sdk.signature

from carekit.chat import slack
from ticket_service.adapters import lark

pytestmark = pytest.mark.unit

# Slack's own example request (https://docs.slack.dev/authentication/verifying-requests-from-slack/).
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def slack_headers(ts: str = SLACK_TS, sig: str = SLACK_SIG) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


@pytest.fixture
def slack_clock_at_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slack_sdk.signature.Clock, "now", lambda _self: float(SLACK_TS) + 30)


@pytest.mark.usefixtures("slack_clock_at_example")
def test_slack_documented_example_request_verifies() -> None:
    assert slack.verified(SLACK_SECRET, slack_headers(), SLACK_BODY)


@pytest.mark.usefixtures("slack_clock_at_example")
def test_slack_tampered_body_or_signature_or_secret_is_refused() -> None:
    assert not slack.verified(SLACK_SECRET, slack_headers(), SLACK_BODY.replace(b"roadrunner", b"coyote"))
    assert not slack.verified(SLACK_SECRET, slack_headers(sig=SLACK_SIG[:-1] + "0"), SLACK_BODY)
    assert not slack.verified("another-signing-secret", slack_headers(), SLACK_BODY)
    assert not slack.verified(SLACK_SECRET, {}, SLACK_BODY)
    assert not slack.verified(SLACK_SECRET, slack_headers(ts="1531420618.5"), SLACK_BODY)
    assert not slack.verified(SLACK_SECRET, slack_headers(ts="yesterday"), SLACK_BODY)


def test_slack_example_is_stale_on_todays_clock() -> None:
    assert not slack.verified(SLACK_SECRET, slack_headers(), SLACK_BODY)


def test_slack_request_older_than_five_minutes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slack_sdk.signature.Clock, "now", lambda _self: float(SLACK_TS) + 301)
    assert not slack.verified(SLACK_SECRET, slack_headers(), SLACK_BODY)
    monkeypatch.setattr(slack_sdk.signature.Clock, "now", lambda _self: float(SLACK_TS) + 299)
    assert slack.verified(SLACK_SECRET, slack_headers(), SLACK_BODY)


# Lark's documented decryption example: key "test key" turns this into "hello world".
def test_lark_documented_encrypted_example_decrypts() -> None:
    assert lark.decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"


def test_lark_wrong_encrypt_key_does_not_decrypt() -> None:
    with pytest.raises(lark.Unverified):
        lark.decrypt("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")


TOKEN = "verification-token-1"
KEY = "encrypt-key-1"


def signed(body: bytes, ts: str, nonce: str = "n-1", key: str = KEY) -> dict[str, str]:
    return {
        "X-Lark-Request-Timestamp": ts,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": lark.signature(ts, nonce, key, body),
    }


def test_lark_signature_is_sha256_of_timestamp_nonce_key_and_body() -> None:
    import hashlib

    body = b'{"encrypt":"abc"}'
    assert (
        lark.signature("1700000000", "nonce", "key", body) == hashlib.sha256(b"1700000000noncekey" + body).hexdigest()
    )


def test_lark_encrypted_signed_callback_verifies_and_decrypts() -> None:
    inner = {"schema": "2.0", "header": {"token": TOKEN, "event_type": "im.message.receive_v1"}, "event": {}}
    body = json.dumps({"encrypt": lark.encrypt(KEY, json.dumps(inner), b"0123456789abcdef")}).encode()
    now = int(time.time())
    doc = lark.verify(body, signed(body, str(now)), verification_token=TOKEN, encrypt_key=KEY, now=now)
    assert doc == inner


def test_lark_tampered_stale_or_unsigned_callbacks_are_refused() -> None:
    inner = {"type": "url_verification", "token": TOKEN, "challenge": "c"}
    body = json.dumps({"encrypt": lark.encrypt(KEY, json.dumps(inner), b"0123456789abcdef")}).encode()
    now = 1_800_000_000
    with pytest.raises(lark.Unverified, match="does not match"):
        lark.verify(body + b" ", signed(body, str(now)), verification_token=TOKEN, encrypt_key=KEY, now=now)
    with pytest.raises(lark.Unverified, match="older than 5 minutes"):
        lark.verify(body, signed(body, str(now - 301)), verification_token=TOKEN, encrypt_key=KEY, now=now)
    event = {"schema": "2.0", "header": {"token": TOKEN, "event_type": "im.message.receive_v1"}}
    event_body = json.dumps({"encrypt": lark.encrypt(KEY, json.dumps(event), b"0123456789abcdef")}).encode()
    with pytest.raises(lark.Unverified, match="missing"):
        lark.verify(event_body, {}, verification_token=TOKEN, encrypt_key=KEY, now=now)
    assert lark.verify(body, {}, verification_token=TOKEN, encrypt_key=KEY, now=now)["challenge"] == "c"
    with pytest.raises(lark.Unverified, match="does not match"):
        lark.verify(body, signed(body, str(now), key="wrong"), verification_token=TOKEN, encrypt_key=KEY, now=now)


def test_lark_plain_callback_needs_the_verification_token() -> None:
    good = json.dumps({"type": "url_verification", "token": TOKEN, "challenge": "c"}).encode()
    assert lark.verify(good, {}, verification_token=TOKEN, encrypt_key=None)["challenge"] == "c"
    bad = json.dumps({"type": "url_verification", "token": "nope", "challenge": "c"}).encode()
    with pytest.raises(lark.Unverified, match="token"):
        lark.verify(bad, {}, verification_token=TOKEN, encrypt_key=None)
    v2 = json.dumps({"schema": "2.0", "header": {"token": "nope"}}).encode()
    with pytest.raises(lark.Unverified, match="token"):
        lark.verify(v2, {}, verification_token=TOKEN, encrypt_key=None)
    for shape in ("a string", ["a", "list"], 7):
        odd = json.dumps({"schema": "2.0", "header": shape}).encode()
        with pytest.raises(lark.Unverified, match="token"):
            lark.verify(odd, {}, verification_token=TOKEN, encrypt_key=None)
