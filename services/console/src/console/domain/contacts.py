"""Notification contacts on the settings page: the notice kinds, the chat places one may pick, the body sent."""

from __future__ import annotations

from typing import Any

# (kind, what it is, whether it can be unsubscribed): plan-service refuses unsubscribing retirement notices
NOTICE_KINDS: tuple[tuple[str, str, bool], ...] = (
    ("retirement", "Legacy plan retirement warnings and the move (always sent)", False),
    ("sales_request", "Premium requests received, approved, declined or withdrawn", True),
    ("trial", "Developer trial started and ending", True),
    ("ticket", "Support's replies and status changes on tickets", True),
)
SEPARATOR = "|"


def place_value(platform: str, workspace: str, channel: str) -> str:
    """One chat place as the value of a select option."""
    return SEPARATOR.join((platform, workspace, channel))


def chat_places(bindings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(value, label) of each active bound chat place notices can be posted to."""
    return [
        (
            place_value(b["platform"], b["workspace"], b["channel"]),
            f"{b['platform'].capitalize()}: {b.get('name') or b['channel']} ({b['workspace']} / {b['channel']})",
        )
        for b in bindings
        if b.get("state", "active") == "active" and b["platform"] in ("slack", "lark")
    ]


def contacts_body(owner_email: str, technical_email: str, chat: str, subscribed: list[str]) -> dict[str, Any]:
    """The PUT body: empty addresses left unset (the default applies), unticked optional kinds unsubscribed."""
    place = chat.split(SEPARATOR) if chat else []
    return {
        "owner_email": owner_email.strip() or None,
        "technical_email": technical_email.strip() or None,
        "chat": {"platform": place[0], "workspace": place[1], "channel": place[2]} if len(place) == 3 else None,
        "unsubscribed": [kind for kind, _, optional in NOTICE_KINDS if optional and kind not in subscribed],
    }
