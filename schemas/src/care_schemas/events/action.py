"""Events on `alert.actions.v1` (key: org id): what people do with an alert from the message it arrived in.

* `AlertAcknowledged` (ticket-service, from the Acknowledge button of an alert message in Slack or Lark): who and
  when; notify-service stops the alert's repeats until it resolves or fires again with a new start, and updates the
  message to show it.
* `TicketAlertResolved` (notify-service): an alert a ticket was opened from (TicketOpened.alert) has resolved;
  ticket-service adds a comment saying so to the ticket.

`AlertButton` is the contract between notify-service, which renders the buttons, and ticket-service, which
receives the press (the button's value, compact JSON within Slack's 2000 characters).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, TypeAdapter

from care_schemas.bounded import Id, Timestamp, bounded
from care_schemas.envelope import CloudEvent, Frozen
from care_schemas.events.alert import AlertRef
from care_schemas.events.ticket import ImPlatform

ACK_ACTION = "alert_ack"
TICKET_ACTION = "alert_ticket"
Fingerprint = Annotated[str, bounded(128, min_length=1)]


class ChatMessage(Frozen):
    """The chat message a button was pressed in, so that it can be updated."""

    platform: ImPlatform
    workspace: Annotated[str, bounded(256)] = Field(description="Slack team id or Lark tenant key")
    channel: Annotated[str, bounded(256)] = Field(description="Slack channel id or Lark chat id")
    message_id: Annotated[str, bounded(256)] = Field(description="Slack message ts or Lark message id")
    response_url: Annotated[str, bounded(2048)] | None = Field(
        default=None, description="Slack: the interaction's response_url (replaces the message within 30 minutes)"
    )
    update_token: Annotated[str, bounded(512)] | None = Field(
        default=None,
        description="Lark: the card callback's token (the app replaces the card with it within 30 minutes)",
    )


class AlertButton(Frozen):
    """What an alert message's button carries back when pressed."""

    o: Id = Field(description="organisation")
    f: Fingerprint = Field(description="the alert's fingerprint")
    s: Timestamp = Field(description="the alert's start")
    sub: Id = Field(description="the subscriber the message was sent to")
    m: Annotated[list[Fingerprint], Field(max_length=10)] = Field(
        default_factory=list, description="every alert of the message, to show the message again as updated"
    )
    t: Annotated[str, bounded(255)] = Field(default="", description="the alert's summary (a ticket's summary)")
    c: Annotated[str, bounded(128)] | None = Field(default=None, description="its cluster")
    d: Annotated[str, bounded(1000)] = Field(default="", description="its rule, labels and link, for a ticket")

    @property
    def alert(self) -> AlertRef:
        return AlertRef(org_id=self.o, fingerprint=self.f, starts_at=self.s)


class AlertAcknowledgedData(Frozen):
    alert: AlertRef
    acknowledged_by: Annotated[str, bounded(256, min_length=1)] = Field(description="the platform's user id")
    acknowledged_by_name: Annotated[str, bounded(256)] | None = None
    acknowledged_at: Timestamp
    subscriber_id: Id | None = Field(default=None, description="the subscriber whose message carried the button")
    message: ChatMessage | None = None
    shown: Annotated[list[Fingerprint], Field(max_length=10)] = Field(
        default_factory=list, description="the alerts of that message"
    )


class AlertAcknowledged(CloudEvent[AlertAcknowledgedData]):
    TYPE: ClassVar[str] = "care.action.alert_acknowledged.v1"
    type: Literal["care.action.alert_acknowledged.v1"]


class TicketAlertResolvedData(Frozen):
    ticket_id: Id
    alert: AlertRef
    rule: Annotated[str, bounded(255)]
    summary: Annotated[str, bounded(1024)]
    resolved_at: Timestamp


class TicketAlertResolved(CloudEvent[TicketAlertResolvedData]):
    TYPE: ClassVar[str] = "care.action.ticket_alert_resolved.v1"
    type: Literal["care.action.ticket_alert_resolved.v1"]


ActionEvent = Annotated[AlertAcknowledged | TicketAlertResolved, Field(discriminator="type")]
action_event_adapter: TypeAdapter[ActionEvent] = TypeAdapter(ActionEvent)
