"""Notification contacts: who hears of plan, trial, sales, retirement and ticket notices (pure rules).

An address an owner never set falls back to the *default*: the e-mail of the customer who last changed something
for the organisation (known from the `email` claim of their token). Staff acting for a customer never become its
default. The technical address falls back to the owner address. Retirement notices cannot be unsubscribed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from care_schemas.events.plan import MANDATORY_NOTICES, ContactChat, NoticeKind
from plan_service.domain.model import Invalid

CUSTOMER_ROLES = frozenset({"org_owner", "billing_manager", "project_owner", "member"})


@dataclass(frozen=True)
class Contacts:
    """What an organisation set (`owner_email`, `technical_email`, `chat`, `unsubscribed`) and its default."""

    org_id: str
    owner_email: str | None = None
    technical_email: str | None = None
    chat: ContactChat | None = None
    unsubscribed: frozenset[NoticeKind] = frozenset()
    default_email: str | None = None
    version: int = 0

    @property
    def effective_owner(self) -> str | None:
        return self.owner_email or self.default_email

    @property
    def effective_technical(self) -> str | None:
        return self.technical_email or self.effective_owner

    @property
    def published(self) -> tuple[object, ...]:
        """What the other services are told; an event goes out only when this changes."""
        return (self.effective_owner, self.effective_technical, self.chat, sorted(self.unsubscribed))


def check_unsubscribed(kinds: Iterable[NoticeKind]) -> frozenset[NoticeKind]:
    """The kinds an organisation may opt out of; a mandatory one is refused naming it."""
    wanted = frozenset(kinds)
    if refused := sorted(k.value for k in wanted & MANDATORY_NOTICES):
        raise Invalid(
            f"{', '.join(refused)} notices cannot be unsubscribed: the organisation must receive them",
            field="body.unsubscribed",
        )
    return wanted


def decide_set(
    current: Contacts,
    *,
    owner_email: str | None,
    technical_email: str | None,
    chat: ContactChat | None,
    unsubscribed: Iterable[NoticeKind],
) -> Contacts | None:
    """The contacts an owner sets (the whole set, as PUT does); None when nothing changes."""
    after = replace(
        current,
        owner_email=owner_email,
        technical_email=technical_email,
        chat=chat,
        unsubscribed=check_unsubscribed(unsubscribed),
    )
    return None if after == current else replace(after, version=current.version + 1)


def decide_default(current: Contacts, role: str, email: str | None) -> Contacts | None:
    """A customer with a known address made a change: they become the default; None when nothing changes."""
    if role not in CUSTOMER_ROLES or not email or email == current.default_email:
        return None
    return replace(current, default_email=email, version=current.version + 1)
