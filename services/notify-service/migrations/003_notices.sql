-- Notices to organisations (issue 13): their contacts, kept from plan.events.v1 (OrgContactsChanged), and notice
-- attempts in the delivery log beside alert deliveries. Notices themselves are queued in `im_messages` (kinds
-- notice_email, notice_slack, notice_lark) with ticket updates and TAM e-mails: one durable queue, one retry rule.
CREATE TABLE IF NOT EXISTS org_contacts (
    org_id          text        PRIMARY KEY,
    version         bigint      NOT NULL,
    owner_email     text,
    technical_email text,
    chat            jsonb,
    unsubscribed    text[]      NOT NULL DEFAULT '{}',
    event_id        text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A notice's attempt has no subscriber: it names its message (im_messages.id) and what it was about.
ALTER TABLE delivery_attempts ALTER COLUMN subscriber_id DROP NOT NULL;
ALTER TABLE delivery_attempts ADD COLUMN IF NOT EXISTS message_id bigint;
ALTER TABLE delivery_attempts ADD COLUMN IF NOT EXISTS notice text;
ALTER TABLE delivery_attempts ADD COLUMN IF NOT EXISTS recipient text;
CREATE INDEX IF NOT EXISTS im_messages_undelivered ON im_messages (id) WHERE state <> 'delivered';
