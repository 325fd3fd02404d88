-- Transactional outbox: rows written with the state change, published by the relay.
CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    key         text        NOT NULL,
    event_id    text        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    payload     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Idempotent consumers: an event id is recorded in the same transaction as its effect.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- The plan projection: org -> plan, entitlements, version, kept from plan.events.v1.
CREATE TABLE IF NOT EXISTS plan_projection (
    org_id        text        PRIMARY KEY,
    plan          text        NOT NULL,
    previous_plan text,
    entitlements  jsonb       NOT NULL,
    version       bigint      NOT NULL,
    tam           jsonb,
    timezone      text        NOT NULL DEFAULT 'UTC',
    event_id      text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
