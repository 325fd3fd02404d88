-- ticket-service's tables; the kit's outbox, processed_events and plan_projection are applied first.
CREATE TABLE IF NOT EXISTS tickets (
    id                text        PRIMARY KEY,
    org_id            text        NOT NULL,
    kind              text        NOT NULL,
    severity          text        NOT NULL,
    status            text        NOT NULL,
    summary           text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    cluster_id        text,
    environment       text,
    components        jsonb       NOT NULL DEFAULT '[]',
    affected_version  text,
    reporter_email    text,
    channel           text        NOT NULL,
    created_by        text        NOT NULL,
    plan              text        NOT NULL,   -- plan in force at creation
    response_targets  jsonb       NOT NULL,   -- that plan's targets, so a severity change recomputes under it
    timezone          text        NOT NULL,   -- the organisation's zone at creation
    response_due_at   timestamptz,
    first_response_at timestamptz,
    resolved_at       timestamptz,            -- first time it was resolved (a late breach is still found)
    breached_at       timestamptz,            -- the unique breach marker: set once, with the event
    im_thread         jsonb,                  -- where the ticket was raised in chat
    im_key            text UNIQUE,            -- platform|workspace|channel|thread, to find a ticket from its thread
    source_key        text UNIQUE,            -- idempotency of chat submissions (Slack view id, Lark event id)
    opened_at         timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_org_opened ON tickets (org_id, opened_at DESC);
CREATE INDEX IF NOT EXISTS tickets_opened ON tickets (opened_at DESC);
CREATE INDEX IF NOT EXISTS tickets_awaiting_response ON tickets (response_due_at)
    WHERE breached_at IS NULL AND response_due_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS comments (
    id          text        PRIMARY KEY,
    ticket_id   text        NOT NULL REFERENCES tickets (id),
    author      text        NOT NULL,
    author_kind text        NOT NULL,
    visibility  text        NOT NULL,
    body        text        NOT NULL,
    origin      jsonb,                      -- chat message it came from, so it is never echoed back
    origin_key  text UNIQUE,                -- platform|workspace|channel|message id: a retried event is applied once
    created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_ticket ON comments (ticket_id, created_at);

CREATE TABLE IF NOT EXISTS im_bindings (
    id          text        PRIMARY KEY,
    org_id      text        NOT NULL,
    platform    text        NOT NULL,
    workspace   text        NOT NULL,
    channel     text        NOT NULL,
    name        text,
    updates     boolean     NOT NULL,
    two_way     boolean     NOT NULL,
    state       text        NOT NULL,
    reason      text,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, workspace, channel)
);
CREATE INDEX IF NOT EXISTS im_bindings_org ON im_bindings (org_id, created_at);

CREATE TABLE IF NOT EXISTS org_holidays (
    org_id  text NOT NULL,
    day     date NOT NULL,
    PRIMARY KEY (org_id, day)
);
