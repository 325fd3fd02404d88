"""Lark inside the process: verified callbacks, the request card, tickets and thread replies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ticket_harness import Service, bind, ticket_seen, tickets_of

from care_schemas.catalogue import PlanCode
from carekit_testing import lark_links
from tests.fakes.lark_server import FakeLark

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
FORM = {
    "summary": "PD leader keeps changing",
    "severity": "S1",
    "kind": "technical",
    "description": "every few seconds",
    "reporter_email": "li@customer.example",
}


async def bind_group(service: Service, org: str, plan: PlanCode) -> str:
    """Put the org on `plan` and bind a fresh group of the local Lark tenant to it; return the chat id."""
    return await bind(service, org, plan, platform="lark")


async def show_card(service: Service, chat: str) -> tuple[dict[str, Any], str]:
    """Mention the bot in the group; return the card it showed and the mention's message id."""
    lark = service.lark
    cards = len([c for c in lark.calls if c.path.endswith("/ephemeral/v1/send")])
    doc, message_id = lark.message_event(chat, "we need help")
    answer = await lark.post(service.client, "/lark/events", doc)
    assert answer.status_code == 200, answer.text
    call = (await lark.wait_for("/ephemeral/v1/send", cards + 1))[-1]
    assert call.payload["chat_id"] == chat
    assert call.payload["open_id"] == "ou_customer"
    card: dict[str, Any] = call.payload["card"]
    return card, message_id


async def ticket_in_thread(service: Service, org: str, plan: PlanCode) -> tuple[str, dict[str, Any], str]:
    """Bind a group for the org on `plan` and raise a ticket from the card; return the chat, the ticket, the thread's
    root message id."""
    chat = await bind_group(service, org, plan)
    card, root = await show_card(service, chat)
    await service.lark.post(service.client, "/lark/card", service.lark.card_submit(card, FORM))
    [ticket] = await tickets_of(service, org)
    return chat, ticket, root


async def test_lark_challenge_needs_the_verification_token(service: Service) -> None:
    ok = await service.client.post(
        "/lark/events", json={"challenge": "ch-1", "token": service.lark.verification_token, "type": "url_verification"}
    )
    assert ok.json() == {"challenge": "ch-1"}
    bad = await service.client.post(
        "/lark/events", json={"challenge": "ch-1", "token": "guess", "type": "url_verification"}
    )
    assert bad.status_code == 401


async def test_mention_shows_the_card_to_the_member_and_submit_opens_the_ticket_with_a_thread_reply(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    chat = await bind_group(service, org, PlanCode.ENTERPRISE)
    lark = service.lark
    card, root = await show_card(service, chat)
    form = card["body"]["elements"][0]
    assert [e["name"] for e in form["elements"] if e["tag"] != "button"] == [
        "summary",
        "severity",
        "kind",
        "cluster_id",
        "description",
        "reporter_email",
    ]
    replies = len([c for c in lark.calls if c.path.endswith("/reply")])
    answer = await lark.post(service.client, "/lark/card", lark.card_submit(card, FORM))
    assert answer.json()["toast"]["type"] == "success"
    [ticket] = await tickets_of(service, org)
    assert ticket["channel"] == "lark"
    assert ticket["reporter_email"] == "li@customer.example"
    assert ticket["im_thread"] == {
        "platform": "lark",
        "workspace": lark.tenant_key,
        "channel": chat,
        "thread_ts": root,
        "message_id": root,
    }
    reply = (await lark.wait_for("/reply", replies + 1))[-1]
    assert reply.path == f"/open-apis/im/v1/messages/{root}/reply"
    assert reply.payload["reply_in_thread"] is True
    assert reply.payload["msg_type"] == "post"
    assert ticket["link"] in lark_links(reply.payload["content"])


async def test_same_lark_thread_reply_twice_is_one_comment_on_premium(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    chat, ticket, root = await ticket_in_thread(service, org, PlanCode.PREMIUM)
    lark = service.lark
    doc, _ = lark.message_event(chat, "logs attached", root_id=root, mention=False)
    for _ in range(2):
        assert (await lark.post(service.client, "/lark/events", doc)).status_code == 200
    seen = await ticket_seen(service, ticket["id"])
    assert [(c["body"], c["author_kind"]) for c in seen["comments"]] == [("logs attached", "customer")]


async def test_card_falls_back_to_the_chat_when_ephemeral_cards_are_refused(service: Service, unique: str) -> None:
    chat = await bind_group(service, f"org-{unique}", PlanCode.ENTERPRISE)
    lark = service.lark
    lark.ephemeral_allowed = False
    try:
        sent = len([c for c in lark.calls if c.path == "/open-apis/im/v1/messages"])
        doc, _ = lark.message_event(chat, "help")
        await lark.post(service.client, "/lark/events", doc)
        call = (await lark.wait_for("/open-apis/im/v1/messages", sent + 1))[-1]
        assert call.query == {"receive_id_type": "chat_id"}
        assert call.payload["receive_id"] == chat
        assert call.payload["msg_type"] == "interactive"
    finally:
        lark.ephemeral_allowed = True


async def test_encrypted_lark_callbacks_must_be_signed_and_fresh(encrypted_service: Service, unique: str) -> None:
    service = encrypted_service
    lark: FakeLark = service.lark
    chat = await bind_group(service, f"org-{unique}", PlanCode.ENTERPRISE)
    card, _root = await show_card(service, chat)  # encrypted and signed: accepted
    assert card["header"]["title"]["content"] == "Raise a support request"

    doc, _ = lark.message_event(chat, "help")
    body, headers = lark.wrap(doc)
    sent = len(lark.calls)
    unsigned = {"Content-Type": "application/json"}
    tampered = headers | {"X-Lark-Signature": "0" * 64}
    stale_body, stale_headers = lark.wrap(doc, timestamp=1_700_000_000)
    for content, hdrs in ((body, unsigned), (body, tampered), (stale_body, stale_headers)):
        answer = await service.client.post("/lark/events", content=content, headers=hdrs)
        assert answer.status_code == 401
    assert len(lark.calls) == sent
    challenge = {"challenge": "ch-2", "token": lark.verification_token, "type": "url_verification"}
    body, _ = lark.wrap(challenge)
    answer = await service.client.post("/lark/events", content=body, headers={"Content-Type": "application/json"})
    assert answer.json() == {"challenge": "ch-2"}


async def test_callbacks_of_the_wrong_shape_are_refused_or_ignored_without_an_error(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    chat = await bind_group(service, org, PlanCode.PREMIUM)
    lark, client = service.lark, service.client
    sent = len(lark.calls)
    forged = await client.post("/lark/events", json={"schema": "2.0", "header": "im.message.receive_v1"})
    assert forged.status_code == 401
    message, _ = lark.message_event(chat, "help")
    events: list[dict[str, Any]] = [
        message | {"event": "a mention"},
        message | {"event": {"sender": "ou_customer", "message": message["event"]["message"]}},
        message | {"event": {"sender": message["event"]["sender"], "message": ["om_1"]}},
        message | {"event": {"sender": {"sender_type": "user", "sender_id": "ou_x"}, "message": {"chat_id": chat}}},
        message | {"event": message["event"] | {"message": message["event"]["message"] | {"content": 5}}},
    ]
    for doc in events:
        answer = await lark.post(client, "/lark/events", doc)
        assert answer.status_code == 200, answer.text
    value = {"action": "raise_request", "chat_id": chat, "root_id": "om_root"}
    header = lark.header("card.action.trigger")
    cards: list[dict[str, Any]] = [
        {"schema": "2.0", "header": header, "event": {"action": "submit"}},
        {"schema": "2.0", "header": header, "event": {"action": {"value": "raise_request"}}},
        {
            "schema": "2.0",
            "header": header,
            "event": {"operator": "ou_x", "action": {"value": value, "form_value": "x"}},
        },
        {
            "schema": "2.0",
            "header": header | {"event_id": None},
            "event": {"action": {"value": value, "form_value": FORM}},
        },
    ]
    for doc in cards:
        answer = await lark.post(client, "/lark/card", doc)
        assert answer.status_code == 200, answer.text
        assert answer.json().get("toast", {"type": "error"})["type"] == "error"
    assert await service.count("SELECT count(*) FROM tickets WHERE org_id = $1", org) == 0
    # only the mention whose text could not be read still got its card
    assert [c.path for c in lark.calls[sent:]] == ["/open-apis/ephemeral/v1/send"]


async def test_a_mention_in_a_suspended_group_is_answered_with_a_notice_not_a_card(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    chat = await bind_group(service, org, PlanCode.ENTERPRISE)
    await service.set_plan(org, PlanCode.BASIC, 2)
    lark = service.lark
    sent = len(lark.calls)
    doc, message_id = lark.message_event(chat, "help")
    for _ in range(2):  # Lark retries the event: one notice
        assert (await lark.post(service.client, "/lark/events", doc)).status_code == 200
    calls = lark.calls[sent:]  # the notice is sent before the callback is answered
    assert [c.path for c in calls] == [f"/open-apis/im/v1/messages/{message_id}/reply"]
    assert "suspended" in calls[0].payload["content"]
    assert calls[0].payload["msg_type"] == "post"


async def test_rich_text_and_file_replies_in_a_premium_thread_become_comments(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    chat, ticket, root = await ticket_in_thread(service, org, PlanCode.PREMIUM)
    lark = service.lark
    post = {
        "title": "Update",
        "content": [
            [{"tag": "text", "text": "leader moved"}, {"tag": "at", "user_id": "@_user_1"}],
            [{"tag": "text", "text": "twice"}],
        ],
    }
    rich, _ = lark.message_event(chat, "", root_id=root, mention=False)
    rich["event"]["message"] |= {"message_type": "post", "content": json.dumps(post)}
    file, _ = lark.message_event(chat, "", root_id=root, mention=False)
    file["event"]["message"] |= {
        "message_type": "file",
        "content": json.dumps({"file_key": "k", "file_name": "pd.log"}),
    }
    for doc in (rich, file):
        assert (await lark.post(service.client, "/lark/events", doc)).status_code == 200
    seen = await ticket_seen(service, ticket["id"])
    assert sorted(c["body"] for c in seen["comments"]) == ["Update\nleader moved\ntwice", "[attached in Lark: pd.log]"]
