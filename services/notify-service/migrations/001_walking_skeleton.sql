-- Subscribers: where an organisation's alerts go.
CREATE TABLE subscribers (
    id          text        PRIMARY KEY,
    org_id      text        NOT NULL,
    project_id  text        NOT NULL,
    cluster_id  text,
    type        text        NOT NULL,
    name        text        NOT NULL,
    config      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscribers_scope ON subscribers (org_id, project_id);

-- Active-alert state: the latest we know of each alert.
CREATE TABLE alerts (
    org_id      text        NOT NULL,
    fingerprint text        NOT NULL,
    status      text        NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz,
    alert       jsonb       NOT NULL,
    event_id    text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, fingerprint)
);

-- The durable notification queue; the natural key makes intake idempotent.
CREATE TABLE notifications (
    id              bigserial   PRIMARY KEY,
    subscriber_id   text        NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    org_id          text        NOT NULL,
    fingerprint     text        NOT NULL,
    status          text        NOT NULL,
    starts_at       timestamptz NOT NULL,
    round           integer     NOT NULL DEFAULT 0,
    alert           jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscriber_id, fingerprint, status, starts_at, round)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';

-- Every delivery attempt, for the delivery log.
CREATE TABLE delivery_attempts (
    id              bigserial   PRIMARY KEY,
    notification_id bigint      NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt         integer     NOT NULL,
    outcome         text        NOT NULL,
    http_status     integer,
    detail          text,
    latency_ms      double precision NOT NULL,
    attempted_at    timestamptz NOT NULL DEFAULT now()
);
